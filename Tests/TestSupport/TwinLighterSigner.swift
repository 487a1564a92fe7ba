// A stand-in for Lighter's signer in tests that run without the venue's library: it writes each
// transaction's `tx_info` with the library's field order and shapes (lighter-live.md §3.3: the
// order of fields, an 80-byte `Sig` in base64, `ExpiredAt` = now + 10 min − 1 s) and a
// signature of zeros. Only a twin accepts it; a real venue would answer 21120.

import Foundation
import PerpModel
import PerpVenues

public final class TwinLighterSigner: LighterSigner, @unchecked Sendable {
    public let accountIndex: Int64
    public let apiKeyIndex: Int32
    private let clock: @Sendable () -> Int64
    private let lock = NSLock()
    private var signedCount = 0

    public init(accountIndex: Int64, apiKeyIndex: Int32, clock: @escaping @Sendable () -> Int64) {
        self.accountIndex = accountIndex
        self.apiKeyIndex = apiKeyIndex
        self.clock = clock
    }

    /// How many transactions it signed.
    public var signed: Int { lock.withLock { signedCount } }

    private func tx(_ type: Int, _ fields: [(String, String)], nonce: Int64) -> LighterSignedTx {
        lock.withLock { signedCount += 1 }
        let expiredAt = clock() + 599_000
        let signature = Data(repeating: 0, count: 80).base64EncodedString()
        let head = [("AccountIndex", String(accountIndex)), ("ApiKeyIndex", String(apiKeyIndex))]
        let tail = [("ExpiredAt", String(expiredAt)), ("Nonce", String(nonce)), ("Sig", "\"\(signature)\""), ("L2TxAttributes", "null")]
        let info = "{" + (head + fields + tail).map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        var generator = SplitMix64(seed: UInt64(bitPattern: nonce) &+ UInt64(type))
        let hash = (0..<5).map { _ in String(format: "%016llx", generator.next()) }.joined()
        return LighterSignedTx(type: type, info: info, hash: hash)
    }

    public func createOrder(_ order: LighterOrderFields, nonce: Int64) throws(LighterSignerError) -> LighterSignedTx {
        tx(
            14,
            [
                ("MarketIndex", String(order.market)), ("ClientOrderIndex", String(order.clientOrderIndex)),
                ("BaseAmount", String(order.baseAmount)), ("Price", String(order.price)), ("IsAsk", order.isAsk ? "1" : "0"),
                ("Type", String(order.orderType)), ("TimeInForce", String(order.timeInForce)), ("ReduceOnly", order.reduceOnly ? "1" : "0"),
                ("TriggerPrice", String(order.triggerPrice)), ("OrderExpiry", String(order.orderExpiry)),
            ], nonce: nonce)
    }

    public func cancelOrder(market: Int64, orderIndex: Int64, nonce: Int64) throws(LighterSignerError) -> LighterSignedTx {
        tx(15, [("MarketIndex", String(market)), ("Index", String(orderIndex))], nonce: nonce)
    }

    public func cancelAll(timeInForce: Int32, time: Int64, market: Int64, nonce: Int64) throws(LighterSignerError) -> LighterSignedTx {
        tx(16, [("TimeInForce", String(timeInForce)), ("Time", String(time))], nonce: nonce)
    }

    public func updateLeverage(market: Int64, initialMarginFraction: Int32, marginMode: Int32, nonce: Int64) throws(LighterSignerError)
        -> LighterSignedTx
    {
        tx(
            20,
            [
                ("MarketIndex", String(market)), ("InitialMarginFraction", String(initialMarginFraction)),
                ("MarginMode", String(marginMode)),
            ],
            nonce: nonce)
    }

    public func updateMargin(market: Int64, usdcAmount: Int64, direction: Int32, nonce: Int64) throws(LighterSignerError) -> LighterSignedTx
    {
        tx(29, [("MarketIndex", String(market)), ("USDCAmount", String(usdcAmount)), ("Direction", String(direction))], nonce: nonce)
    }

    public func createPublicPool(operatorFee: Int64, initialTotalShares: Int64, minOperatorShareRate: Int64, nonce: Int64)
        throws(LighterSignerError) -> LighterSignedTx
    {
        tx(
            10,
            [
                ("OperatorFee", String(operatorFee)), ("InitialTotalShares", String(initialTotalShares)),
                ("MinOperatorShareRate", String(minOperatorShareRate)),
            ], nonce: nonce)
    }

    public func authToken(deadline: Int64) throws(LighterSignerError) -> String {
        "\(deadline):\(accountIndex):\(apiKeyIndex):" + String(repeating: "0", count: 160)
    }
}
