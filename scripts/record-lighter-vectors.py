#!/usr/bin/env python3
"""Records what Lighter's own signer library answers for fixed inputs, for the contract tests.

    python3 scripts/record-lighter-vectors.py [LIBRARY] > Tests/PerpVenuesTests/Fixtures/LighterSignerVectors.swift

LIBRARY defaults to $NMRPERP_HOME/lib/lighter-signer-linux-amd64.so (scripts/install-lighter-signer.sh).
It calls the library through ctypes (an implementation independent of the Swift loader), with a
throw-away test key that was never registered with Lighter, explicit nonces and no URL (offline),
and writes every answer as a Swift string constant. The tests sign the same inputs through the
Swift loader and compare every field but the signature and the expiry, which the library
randomises and stamps with the clock (lighter-live.md §8.3).
"""
import ctypes, json, os, sys, time

home = os.environ.get("NMRPERP_HOME") or os.path.join(os.environ["HOME"], ".nmrperp")
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(home, "lib", "lighter-signer-linux-amd64.so")
lib = ctypes.CDLL(path)

class Signed(ctypes.Structure):
    _fields_ = [("txType", ctypes.c_uint8), ("txInfo", ctypes.c_void_p), ("txHash", ctypes.c_void_p),
                ("messageToSign", ctypes.c_void_p), ("err", ctypes.c_void_p)]

class StrOrErr(ctypes.Structure):
    _fields_ = [("str", ctypes.c_void_p), ("err", ctypes.c_void_p)]

lib.Free.argtypes = [ctypes.c_void_p]

def text(pointer):
    if not pointer:
        return None
    value = ctypes.string_at(pointer).decode()
    lib.Free(pointer)
    return value

# A throw-away key (GenerateAPIKey once), registered nowhere: it signs only these vectors.
KEY = "0xb5123683b4550f9e541c7412b6692c9ce76836339d06b42c1bd72499ea35c068c9ce8a44e3133c79"
ACCOUNT, API_KEY, CHAIN = 281474976710600, 4, 304

lib.CreateClient.restype = ctypes.c_void_p
lib.CreateClient.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_longlong]
error = text(lib.CreateClient(b"", KEY.encode(), CHAIN, API_KEY, ACCOUNT))
if error:
    sys.exit("CreateClient: " + error)

# A master account index (below 2^47) for the transactions only a master account signs.
MASTER = 12345
error = text(lib.CreateClient(b"", KEY.encode(), CHAIN, API_KEY, MASTER))
if error:
    sys.exit("CreateClient (master): " + error)

L, I, U8 = ctypes.c_longlong, ctypes.c_int, ctypes.c_uint8
signatures = {
    "SignCreateOrder": [L, L, L, I, I, I, I, I, I, L, L, I, I, U8, U8, U8, L, I, L],
    "SignCancelOrder": [L, L, U8, L, I, L],
    "SignCancelAllOrders": [I, L, L, U8, L, I, L],
    "SignUpdateLeverage": [L, I, I, U8, L, I, L],
    "SignUpdateMargin": [L, L, I, U8, L, I, L],
    "SignCreatePublicPool": [L, I, L, U8, L, I, L],
}
for name, arguments in signatures.items():
    getattr(lib, name).restype = Signed
    getattr(lib, name).argtypes = arguments

# (name, function, arguments without skipNonce/nonce/apiKeyIndex/accountIndex, nonce)
cases = [
    ("entry short", "SignCreateOrder", [74, 1001, 3141, 81234, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 7),
    ("stop reduce-only", "SignCreateOrder", [74, 1002, 3141, 85000, 0, 2, 0, 1, 84990, 1798653331776, 0, 0, 0, 0, 0], 8),
    ("limit post-only", "SignCreateOrder", [74, 281474976710655, 10, 1, 0, 0, 2, 0, 0, 1798653331776, 0, 0, 0, 0, 0], 9),
    ("cancel", "SignCancelOrder", [74, 281474976710601], 10),
    # The dead man's switch: a scheduled cancel-all is account-wide (255: no market); the signer
    # refuses to schedule one for a single market (found while recording: lighter-live.md does not say).
    ("scheduled cancel-all", "SignCancelAllOrders", [1, 1798653331776, 255], 11),
    ("scheduled cancel-all for one market", "SignCancelAllOrders", [1, 1798653331776, 74], 11),
    ("leverage 2x isolated", "SignUpdateLeverage", [74, 5000, 1], 12),
    ("isolated margin add", "SignUpdateMargin", [74, 25000000, 1], 13),
    # A public pool: 10 % operator fee (of 1,000,000), 1,000 USDC (1,000,000 shares at 0.001), 10 % minimum
    # operator share (of 10,000). The key's account is a sub-account index (above 2^47 - 1), which the
    # validator refuses for pool creation (only master accounts create pools); the second case signs
    # for a master account index with the same throw-away key.
    ("create public pool from a sub-account", "SignCreatePublicPool", [100000, 1000000, 1000], 16),
    ("create public pool", "SignCreatePublicPool", [100000, 1000000, 1000], 1, MASTER),
    ("price below one", "SignCreateOrder", [74, 1003, 10, 0, 1, 0, 0, 0, 0, 1798653331776, 0, 0, 0, 0, 0], 14),
    ("client order index too large", "SignCreateOrder", [74, 281474976710656, 10, 100, 1, 0, 0, 0, 0, 1798653331776, 0, 0, 0, 0, 0], 15),
]
vectors = []
for label, name, arguments, nonce, *rest in cases:
    account = rest[0] if rest else ACCOUNT
    signed = getattr(lib, name)(*arguments, 0, nonce, API_KEY, account)
    vectors.append({
        "label": label, "function": name, "arguments": arguments, "nonce": nonce, "account_index": account,
        "tx_type": signed.txType, "tx_info": text(signed.txInfo), "tx_hash": text(signed.txHash),
        "message_to_sign": text(signed.messageToSign), "error": text(signed.err),
    })

document = {
    "library": "lighter-sdk 1.1.8 lighter-signer-linux-amd64.so",
    "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "key": KEY, "account_index": ACCOUNT, "api_key_index": API_KEY, "chain_id": CHAIN,
    "vectors": vectors,
}
print("// Generated by scripts/record-lighter-vectors.py from Lighter's own signer (lighter-sdk 1.1.8):")
print("// fixed inputs, a throw-away key registered nowhere, explicit nonces, no URL. Do not edit.")
print("enum LighterSignerVectors {")
print('    static let json = #"""')
print(json.dumps(document, indent=1))
print('"""#')
print("}")
