import CLighterSigner
import Foundation
import PerpModel
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A Lighter API private key (40 bytes, hex). Never printed: every description is
/// `<redacted>`; the text reaches only the signer library's `CreateClient`.
public struct LighterPrivateKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    fileprivate let hex: String

    /// `0x` followed by 80 hex digits (Lighter's `GenerateAPIKey` format), or the 80 digits alone.
    public init?(hex text: String) {
        let digits = text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
        guard digits.utf8.count == 80,
            digits.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) })
        else { return nil }
        hex = "0x" + digits.lowercased()
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: ["key": "<redacted>"], displayStyle: .struct) }
}

/// A transaction signed by Lighter's signer, ready for `POST /api/v1/sendTx` (`tx_type`,
/// `tx_info`; lighter-live.md §3.3 and §4.1).
public struct LighterSignedTx: Sendable, Equatable {
    /// 14 create order, 15 cancel, 16 cancel all, 20 leverage, 29 isolated margin (§3.3).
    public var type: Int
    /// Compact JSON: the fields, `ExpiredAt` (now + 10 min − 1 s), `Nonce`, `Sig`, `L2TxAttributes`.
    public var info: String
    /// 80 lowercase hex digits.
    public var hash: String

    public init(type: Int, info: String, hash: String) {
        self.type = type
        self.info = info
        self.hash = hash
    }
}

/// Why nothing was signed.
public enum LighterSignerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The library or its header is not where it was looked for.
    case notInstalled(String)
    /// `dlopen`/`dlsym` failed.
    case cannotLoad(String)
    /// The header shipped with the library declares a function differently from what this build
    /// calls: signing would pass the wrong types (decision 0014).
    case abiMismatch([String])
    /// The library refused (its validator's text, e.g. "OrderPrice should not be less than 1").
    case refused(String)
    /// A value does not fit the C type the library takes.
    case outOfRange(String)

    public var description: String {
        switch self {
        case .notInstalled(let what):
            return "Lighter's signer is not installed (\(what)); run `bash scripts/install-lighter-signer.sh`"
        case .cannotLoad(let why): return "cannot load Lighter's signer: \(why)"
        case .abiMismatch(let problems):
            return
                "Lighter's signer library does not declare what this build calls (\(problems.joined(separator: "; "))); nothing is signed. Install the pinned version with `bash scripts/install-lighter-signer.sh`"
        case .refused(let text): return "Lighter's signer refused: \(SafeText.excerpt(Array(text.utf8)))"
        case .outOfRange(let what): return "\(what) is beyond what Lighter's signer takes"
        }
    }
}

/// What a Lighter order is, in the venue's integers (prices and sizes scaled by the market's
/// `price_decimals` and `size_decimals` from `orderBookDetails`; lighter-live.md §4.3).
public struct LighterOrderFields: Sendable, Equatable {
    public var market: Int64
    /// Unique across markets for the account, at most 2^48 − 1.
    public var clientOrderIndex: Int64
    public var baseAmount: Int64
    public var price: Int64
    public var isAsk: Bool
    /// 0 limit, 1 market, 2 stop-loss, 3 stop-loss limit, 4 take-profit, 5 take-profit limit.
    public var orderType: Int32
    /// 0 immediate-or-cancel, 1 good-till-time, 2 post-only.
    public var timeInForce: Int32
    public var reduceOnly: Bool
    public var triggerPrice: Int64
    /// Milliseconds; 0 for immediate orders, −1 for the default (28 days).
    public var orderExpiry: Int64

    public init(
        market: Int64, clientOrderIndex: Int64, baseAmount: Int64, price: Int64, isAsk: Bool, orderType: Int32, timeInForce: Int32,
        reduceOnly: Bool, triggerPrice: Int64 = 0, orderExpiry: Int64
    ) {
        self.market = market
        self.clientOrderIndex = clientOrderIndex
        self.baseAmount = baseAmount
        self.price = price
        self.isAsk = isAsk
        self.orderType = orderType
        self.timeInForce = timeInForce
        self.reduceOnly = reduceOnly
        self.triggerPrice = triggerPrice
        self.orderExpiry = orderExpiry
    }
}

/// Signs Lighter transactions (Schnorr over ECgFp5 with Poseidon2: the venue's own code, never
/// ours). Every transaction takes an explicit nonce: the sender owns the nonce sequence.
public protocol LighterSigner: Sendable {
    func createOrder(_ order: LighterOrderFields, nonce: Int64) throws(LighterSignerError) -> LighterSignedTx
    func cancelOrder(market: Int64, orderIndex: Int64, nonce: Int64) throws(LighterSignerError) -> LighterSignedTx
    /// `timeInForce` 0 cancels now; 1 schedules the cancel at `time` (ms) — the dead man's
    /// switch, account-wide (`market` 255): the library refuses to schedule one for one market.
    func cancelAll(timeInForce: Int32, time: Int64, market: Int64, nonce: Int64) throws(LighterSignerError) -> LighterSignedTx
    /// `initialMarginFraction` in hundredths of a percent (5000 = 50 % = 2×); `marginMode` 0
    /// cross, 1 isolated.
    func updateLeverage(market: Int64, initialMarginFraction: Int32, marginMode: Int32, nonce: Int64) throws(LighterSignerError)
        -> LighterSignedTx
    /// `usdcAmount` in 10⁻⁶ USDC; `direction` 1 adds to the isolated position, 0 removes.
    func updateMargin(market: Int64, usdcAmount: Int64, direction: Int32, nonce: Int64) throws(LighterSignerError) -> LighterSignedTx
    /// `account:apiKey:deadline:signature`, for private reads and the account stream.
    func authToken(deadline: Int64) throws(LighterSignerError) -> String
    /// `CreatePublicPool` (tx 10, signed by the operator's master account): `operatorFee` out of
    /// 1,000,000 of profits, `initialTotalShares` at 0.001 USDC each (at least 1,000,000),
    /// `minOperatorShareRate` out of 10,000 (lighter-live.md §6). Whitelisted by the venue.
    func createPublicPool(operatorFee: Int64, initialTotalShares: Int64, minOperatorShareRate: Int64, nonce: Int64)
        throws(LighterSignerError) -> LighterSignedTx
}

/// The declarations this build calls, as Lighter's 1.1.8 header spells them (`extern` lines and
/// the returned structs, whitespace collapsed). ``check(header:)`` compares them with the header
/// shipped next to the library.
public enum LighterSignerABI {
    public static let version = "1.1.8"
    public static let libraryName = "lighter-signer-linux-amd64.so"
    public static let headerName = "lighter-signer-linux-amd64.h"

    static let declarations: [(name: String, text: String)] = [
        ("StrOrErr", "typedef struct { char* str; char* err; } StrOrErr;"),
        (
            "SignedTxResponse",
            "typedef struct { uint8_t txType; char* txInfo; char* txHash; char* messageToSign; char* err; } SignedTxResponse;"
        ),
        (
            "CreateClient",
            "extern char* CreateClient(char* cUrl, char* cPrivateKey, int cChainId, int cApiKeyIndex, long long int cAccountIndex);"
        ),
        (
            "SignCreateOrder",
            "extern SignedTxResponse SignCreateOrder(long long int cMarketIndex, long long int cClientOrderIndex, long long int cBaseAmount, int cPrice, int cIsAsk, int cOrderType, int cTimeInForce, int cReduceOnly, int cTriggerPrice, long long int cOrderExpiry, long long int cIntegratorAccountIndex, int cIntegratorTakerFee, int cIntegratorMakerFee, uint8_t cSelfTradeBehaviorMode, uint8_t cSelfTradeEqualityMode, uint8_t cSkipNonce, long long int cNonce, int cApiKeyIndex, long long int cAccountIndex);"
        ),
        (
            "SignCancelOrder",
            "extern SignedTxResponse SignCancelOrder(long long int cMarketIndex, long long int cOrderIndex, uint8_t cSkipNonce, long long int cNonce, int cApiKeyIndex, long long int cAccountIndex);"
        ),
        (
            "SignCancelAllOrders",
            "extern SignedTxResponse SignCancelAllOrders(int cTimeInForce, long long int cTime, long long int cCancelAllMarketIndex, uint8_t cSkipNonce, long long int cNonce, int cApiKeyIndex, long long int cAccountIndex);"
        ),
        (
            "SignUpdateLeverage",
            "extern SignedTxResponse SignUpdateLeverage(long long int cMarketIndex, int cInitialMarginFraction, int cMarginMode, uint8_t cSkipNonce, long long int cNonce, int cApiKeyIndex, long long int cAccountIndex);"
        ),
        (
            "SignUpdateMargin",
            "extern SignedTxResponse SignUpdateMargin(long long int cMarketIndex, long long int cUSDCAmount, int cDirection, uint8_t cSkipNonce, long long int cNonce, int cApiKeyIndex, long long int cAccountIndex);"
        ),
        (
            "SignCreatePublicPool",
            "extern SignedTxResponse SignCreatePublicPool(long long int cOperatorFee, int cInitialTotalShares, long long int cMinOperatorShareRate, uint8_t cSkipNonce, long long int cNonce, int cApiKeyIndex, long long int cAccountIndex);"
        ),
        ("CreateAuthToken", "extern StrOrErr CreateAuthToken(long long int cDeadline, int cApiKeyIndex, long long int cAccountIndex);"),
        ("Free", "extern void Free(void* ptr);"),
    ]

    /// What in `header` differs from the declarations this build calls (empty: the same).
    public static func check(header: String) -> [String] {
        let text = collapse(header)
        return declarations.compactMap { declaration in
            text.contains(collapse(declaration.text)) ? nil : "\(declaration.name) is not declared as \(version) declares it"
        }
    }

    /// Whitespace runs become one space; none next to braces, parentheses and semicolons.
    static func collapse(_ text: String) -> String {
        var out = ""
        var pendingSpace = false
        for character in text {
            if character.isWhitespace {
                pendingSpace = true
                continue
            }
            if pendingSpace, let last = out.last, !"{(;".contains(last), !"});,".contains(character) { out.append(" ") }
            pendingSpace = false
            out.append(character)
        }
        return out
    }
}

/// Lighter's signer library (`lighter-signer-linux-amd64.so` from the `lighter-sdk` wheel,
/// installed by `scripts/install-lighter-signer.sh`), loaded with `dlopen` after its header is
/// checked (decision 0014). Offline: the client is created with no URL, so the library makes no
/// request of its own, and every transaction carries an explicit nonce. Calls are serialized
/// (the library keeps its clients in process-global state); the library is never unloaded (a Go
/// runtime cannot be), and only one copy is ever loaded per process.
public final class LighterLibrarySigner: LighterSigner, @unchecked Sendable {
    public let accountIndex: Int64
    public let apiKeyIndex: Int32
    public let chainID: Int32
    private let functions: Functions
    private let lock = NSLock()

    struct Functions: @unchecked Sendable {
        let createClient: NPLighterCreateClient
        let createOrder: NPLighterSignCreateOrder
        let cancelOrder: NPLighterSignCancelOrder
        let cancelAll: NPLighterSignCancelAllOrders
        let updateLeverage: NPLighterSignUpdateLeverage
        let updateMargin: NPLighterSignUpdateMargin
        let createPublicPool: NPLighterSignCreatePublicPool
        let authToken: NPLighterCreateAuthToken
        let free: NPLighterFree
    }

    /// The loaded library (one per process).
    private static let loaded = Mutex<(path: String, functions: Functions)?>(nil)

    /// Where the library is looked for: `NMRPERP_LIGHTER_SIGNER_LIB`, else `$home/lib/`.
    public static func libraryPath(environment: [String: String], home: String) -> String {
        if let path = environment["NMRPERP_LIGHTER_SIGNER_LIB"], !path.isEmpty { return path }
        return home + "/lib/" + LighterSignerABI.libraryName
    }

    /// Loads (once) the library at `libraryPath` after checking the header beside it, and
    /// creates the signing client for the key. Mainnet is chain 304, testnet 300 (§3.1).
    public init(libraryPath: String, key: LighterPrivateKey, accountIndex: Int64, apiKeyIndex: Int32, chainID: Int32)
        throws(LighterSignerError)
    {
        guard (0...254).contains(apiKeyIndex) else { throw .outOfRange("API key index \(apiKeyIndex) (0…254)") }
        guard accountIndex >= 0 else { throw .outOfRange("account index \(accountIndex)") }
        self.accountIndex = accountIndex
        self.apiKeyIndex = apiKeyIndex
        self.chainID = chainID
        functions = try Self.load(libraryPath)
        let create = functions.createClient
        var keyText = Array(key.hex.utf8CString)
        var url: [CChar] = [0]  // no URL: the library never calls the venue itself
        let error = keyText.withUnsafeMutableBufferPointer { keyBuffer in
            url.withUnsafeMutableBufferPointer { urlBuffer in
                create(urlBuffer.baseAddress, keyBuffer.baseAddress, chainID, apiKeyIndex, accountIndex)
            }
        }
        for index in keyText.indices { keyText[index] = 0 }
        if let message = take(error) { throw .refused(message) }
    }

    private static func load(_ path: String) throws(LighterSignerError) -> Functions {
        let headerPath = (path as NSString).deletingLastPathComponent + "/" + LighterSignerABI.headerName
        guard FileManager.default.fileExists(atPath: path) else { throw .notInstalled("no \(path)") }
        guard let data = FileManager.default.contents(atPath: headerPath), data.count < 1_000_000 else {
            throw .notInstalled("no readable \(headerPath) beside the library: its declarations cannot be checked")
        }
        let problems = LighterSignerABI.check(header: String(decoding: data, as: UTF8.self))
        guard problems.isEmpty else { throw .abiMismatch(problems) }
        let result: Result<Functions, LighterSignerError> = loaded.withLock { state in
            if let state {
                guard state.path == path else {
                    return .failure(
                        .cannotLoad("another copy (\(state.path)) is already loaded in this process; one Go library per process"))
                }
                return .success(state.functions)
            }
            guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
                return .failure(.cannotLoad(dlerror().map { String(cString: $0) } ?? "dlopen failed"))
            }
            func symbol<T>(_ name: String, as type: T.Type) -> T? {
                guard let pointer = dlsym(handle, name) else { return nil }
                return unsafeBitCast(pointer, to: type)
            }
            guard let createClient = symbol("CreateClient", as: NPLighterCreateClient.self),
                let createOrder = symbol("SignCreateOrder", as: NPLighterSignCreateOrder.self),
                let cancelOrder = symbol("SignCancelOrder", as: NPLighterSignCancelOrder.self),
                let cancelAll = symbol("SignCancelAllOrders", as: NPLighterSignCancelAllOrders.self),
                let updateLeverage = symbol("SignUpdateLeverage", as: NPLighterSignUpdateLeverage.self),
                let updateMargin = symbol("SignUpdateMargin", as: NPLighterSignUpdateMargin.self),
                let createPublicPool = symbol("SignCreatePublicPool", as: NPLighterSignCreatePublicPool.self),
                let authToken = symbol("CreateAuthToken", as: NPLighterCreateAuthToken.self),
                let free = symbol("Free", as: NPLighterFree.self)
            else { return .failure(.cannotLoad("\(path) lacks one of the functions its header declares")) }
            let functions = Functions(
                createClient: createClient, createOrder: createOrder, cancelOrder: cancelOrder, cancelAll: cancelAll,
                updateLeverage: updateLeverage, updateMargin: updateMargin, createPublicPool: createPublicPool, authToken: authToken,
                free: free)
            state = (path, functions)
            return .success(functions)
        }
        return try result.get()
    }

    /// Copies a string the library returned and frees it (every non-NULL `char*` it returns,
    /// the error included, is the caller's to free; §3.2).
    private func take(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        defer { functions.free(pointer) }
        return String(cString: pointer)
    }

    private func signed(_ response: NPLighterSignedTx) throws(LighterSignerError) -> LighterSignedTx {
        let info = take(response.txInfo)
        let hash = take(response.txHash)
        _ = take(response.messageToSign)
        if let error = take(response.err) { throw .refused(error) }
        guard response.txType != 0, let info, let hash else { throw .refused("no transaction came back") }
        return LighterSignedTx(type: Int(response.txType), info: info, hash: hash)
    }

    private func int32(_ value: Int64, _ what: String) throws(LighterSignerError) -> Int32 {
        guard let narrow = Int32(exactly: value) else { throw .outOfRange("\(what) \(value)") }
        return narrow
    }

    public func createOrder(_ order: LighterOrderFields, nonce: Int64) throws(LighterSignerError) -> LighterSignedTx {
        let price = try int32(order.price, "price")
        let trigger = try int32(order.triggerPrice, "trigger price")
        let isAsk: Int32 = order.isAsk ? 1 : 0
        let reduceOnly: Int32 = order.reduceOnly ? 1 : 0
        let none: Int64 = 0
        let noFee: Int32 = 0
        let zero: UInt8 = 0
        let response = lock.withLock {
            functions.createOrder(
                order.market, order.clientOrderIndex, order.baseAmount, price, isAsk, order.orderType, order.timeInForce, reduceOnly,
                trigger, order.orderExpiry, none, noFee, noFee, zero, zero, zero, nonce, apiKeyIndex, accountIndex)
        }
        return try signed(response)
    }

    public func cancelOrder(market: Int64, orderIndex: Int64, nonce: Int64) throws(LighterSignerError) -> LighterSignedTx {
        let zero: UInt8 = 0
        let response = lock.withLock { functions.cancelOrder(market, orderIndex, zero, nonce, apiKeyIndex, accountIndex) }
        return try signed(response)
    }

    public func cancelAll(timeInForce: Int32, time: Int64, market: Int64, nonce: Int64) throws(LighterSignerError) -> LighterSignedTx {
        let zero: UInt8 = 0
        let response = lock.withLock { functions.cancelAll(timeInForce, time, market, zero, nonce, apiKeyIndex, accountIndex) }
        return try signed(response)
    }

    public func updateLeverage(market: Int64, initialMarginFraction: Int32, marginMode: Int32, nonce: Int64) throws(LighterSignerError)
        -> LighterSignedTx
    {
        let zero: UInt8 = 0
        let response = lock.withLock {
            functions.updateLeverage(market, initialMarginFraction, marginMode, zero, nonce, apiKeyIndex, accountIndex)
        }
        return try signed(response)
    }

    public func updateMargin(market: Int64, usdcAmount: Int64, direction: Int32, nonce: Int64) throws(LighterSignerError)
        -> LighterSignedTx
    {
        let zero: UInt8 = 0
        let response = lock.withLock { functions.updateMargin(market, usdcAmount, direction, zero, nonce, apiKeyIndex, accountIndex) }
        return try signed(response)
    }

    public func createPublicPool(operatorFee: Int64, initialTotalShares: Int64, minOperatorShareRate: Int64, nonce: Int64)
        throws(LighterSignerError) -> LighterSignedTx
    {
        guard let shares = Int32(exactly: initialTotalShares) else {
            throw .outOfRange("\(initialTotalShares) initial shares (the library takes a 32-bit int: about 2.1 million USDC at creation)")
        }
        let zero: UInt8 = 0
        let response = lock.withLock {
            functions.createPublicPool(operatorFee, shares, minOperatorShareRate, zero, nonce, apiKeyIndex, accountIndex)
        }
        return try signed(response)
    }

    public func authToken(deadline: Int64) throws(LighterSignerError) -> String {
        let response = lock.withLock { functions.authToken(deadline, apiKeyIndex, accountIndex) }
        let token = take(response.str)
        if let error = take(response.err) { throw .refused(error) }
        guard let token else { throw .refused("no token came back") }
        return token
    }
}

/// A signer that signs nothing: `hedge run --dry-run` reads the account's public state and never
/// holds a key. Every call is refused with a sentence that says why.
public struct LighterReadOnlySigner: LighterSigner {
    public init() {}

    static let refusal = LighterSignerError.refused("a dry run signs nothing")

    public func createOrder(_ order: LighterOrderFields, nonce: Int64) throws(LighterSignerError) -> LighterSignedTx { throw Self.refusal }
    public func cancelOrder(market: Int64, orderIndex: Int64, nonce: Int64) throws(LighterSignerError) -> LighterSignedTx {
        throw Self.refusal
    }
    public func cancelAll(timeInForce: Int32, time: Int64, market: Int64, nonce: Int64) throws(LighterSignerError) -> LighterSignedTx {
        throw Self.refusal
    }
    public func updateLeverage(market: Int64, initialMarginFraction: Int32, marginMode: Int32, nonce: Int64) throws(LighterSignerError)
        -> LighterSignedTx
    { throw Self.refusal }
    public func updateMargin(market: Int64, usdcAmount: Int64, direction: Int32, nonce: Int64) throws(LighterSignerError) -> LighterSignedTx
    {
        throw Self.refusal
    }
    public func createPublicPool(operatorFee: Int64, initialTotalShares: Int64, minOperatorShareRate: Int64, nonce: Int64)
        throws(LighterSignerError) -> LighterSignedTx
    { throw Self.refusal }
    public func authToken(deadline: Int64) throws(LighterSignerError) -> String { throw Self.refusal }
}
