// Our own declarations of the parts of Lighter's signer library (lighter-sdk 1.1.8,
// lighter/signers/lighter-signer-linux-amd64.h) that NMRPerp calls. The library is loaded at run
// time with dlopen (it is never linked, never committed); these typedefs are what its symbols are
// cast to. `LighterSignerABI` in PerpVenues checks, before anything is signed, that the header
// shipped next to the library still declares each function exactly as here, and refuses to sign
// when it does not (decision 0014).
#ifndef CLIGHTERSIGNER_H
#define CLIGHTERSIGNER_H

#include <stdint.h>

typedef struct {
    char *str;
    char *err;
} NPLighterStrOrErr;

typedef struct {
    uint8_t txType;
    char *txInfo;
    char *txHash;
    char *messageToSign;
    char *err;
} NPLighterSignedTx;

typedef struct {
    char *privateKey;
    char *publicKey;
    char *err;
} NPLighterApiKey;

typedef NPLighterApiKey (*NPLighterGenerateAPIKey)(void);
typedef char *(*NPLighterCreateClient)(char *url, char *privateKey, int chainId, int apiKeyIndex, long long accountIndex);
typedef NPLighterSignedTx (*NPLighterSignCreateOrder)(
    long long marketIndex, long long clientOrderIndex, long long baseAmount, int price, int isAsk, int orderType,
    int timeInForce, int reduceOnly, int triggerPrice, long long orderExpiry, long long integratorAccountIndex,
    int integratorTakerFee, int integratorMakerFee, uint8_t selfTradeBehaviorMode, uint8_t selfTradeEqualityMode,
    uint8_t skipNonce, long long nonce, int apiKeyIndex, long long accountIndex);
typedef NPLighterSignedTx (*NPLighterSignCancelOrder)(
    long long marketIndex, long long orderIndex, uint8_t skipNonce, long long nonce, int apiKeyIndex, long long accountIndex);
typedef NPLighterSignedTx (*NPLighterSignCancelAllOrders)(
    int timeInForce, long long time, long long cancelAllMarketIndex, uint8_t skipNonce, long long nonce, int apiKeyIndex,
    long long accountIndex);
typedef NPLighterSignedTx (*NPLighterSignUpdateLeverage)(
    long long marketIndex, int initialMarginFraction, int marginMode, uint8_t skipNonce, long long nonce, int apiKeyIndex,
    long long accountIndex);
typedef NPLighterSignedTx (*NPLighterSignUpdateMargin)(
    long long marketIndex, long long usdcAmount, int direction, uint8_t skipNonce, long long nonce, int apiKeyIndex,
    long long accountIndex);
typedef NPLighterSignedTx (*NPLighterSignCreatePublicPool)(
    long long operatorFee, int initialTotalShares, long long minOperatorShareRate, uint8_t skipNonce, long long nonce, int apiKeyIndex,
    long long accountIndex);
typedef NPLighterStrOrErr (*NPLighterCreateAuthToken)(long long deadline, int apiKeyIndex, long long accountIndex);
typedef void (*NPLighterFree)(void *pointer);

#endif
