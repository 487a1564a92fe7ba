import PerpVenues
import TestSupport
import Testing

/// Lighter's nonce rules and `sendTx` answers (lighter-live.md §4.1–4.2), without a network.
@Suite struct LighterSendingTests {
    @Test func noncesAdvanceOnlyOnAcceptanceAndOneTransactionIsInFlight() {
        var nonces = LighterNonceSequence()
        var taken = nonces.take()
        #expect(taken == nil, "nothing is signed before nextNonce seeds the sequence")
        var seeded = nonces.seed(nextNonce: 41)
        #expect(seeded)
        taken = nonces.take()
        #expect(taken == 41)
        taken = nonces.take()
        #expect(taken == nil, "the next waits for the answer: sends are serialized")
        seeded = nonces.seed(nextNonce: 99)
        #expect(!seeded, "no reseed under a transaction in flight")
        nonces.answer(.accepted)
        taken = nonces.take()
        #expect(taken == 42)
        nonces.answer(.refusedByAPI)
        taken = nonces.take()
        #expect(taken == 42, "a nonce the API refused was not consumed")
        nonces.answer(.invalidNonce)
        taken = nonces.take()
        #expect(taken == nil && nonces.next == nil, "21104: seed again first")
        seeded = nonces.seed(nextNonce: 50)
        taken = nonces.take()
        #expect(seeded && taken == 50)
        nonces.answer(.unknown)
        taken = nonces.take()
        #expect(taken == nil, "an answer that never came: look the order up, then seed again")
        seeded = nonces.seed(nextNonce: -1)
        #expect(!seeded)
        seeded = nonces.seed(nextNonce: .max)
        taken = nonces.take()
        #expect(seeded && taken == .max)
        nonces.answer(.accepted)
        #expect(nonces.next == nil, "no nonce beyond Int64.max")
        nonces.answer(.accepted)  // no transaction in flight: nothing happens
        #expect(nonces.inFlight == nil)
    }

    @Test func answersAreClassifiedByStatusAndCode() {
        func body(_ text: String) -> [UInt8] { Array(text.utf8) }
        let accepted = LighterSendAnswer.classify(
            status: 200, body: body(#"{"code":200,"tx_hash":"3b3ecf","predicted_execution_time_ms":1700000000300}"#))
        #expect(accepted == .accepted(txHash: "3b3ecf"))
        #expect(LighterSendAnswer.classify(status: 400, body: body(#"{"code":21104,"message":"invalid nonce"}"#)) == .invalidNonce)
        #expect(
            LighterSendAnswer.classify(status: 400, body: body(#"{"code":21136,"message":"invalid PublicKey, update the sdk"}"#))
                == .keyRejected(code: 21136, message: "invalid PublicKey, update the sdk"))
        #expect(LighterSendAnswer.classify(status: 400, body: body(#"{"code":21728,"message":"exists"}"#)) == .duplicateClientOrderIndex)
        #expect(
            LighterSendAnswer.classify(status: 400, body: body(#"{"code":21739,"message":"not enough margin"}"#))
                == .refused(code: 21739, message: "not enough margin"))
        #expect(LighterSendAnswer.classify(status: 429, body: [], retryAfter: 3) == .rateLimited(retryAfter: 3))
        #expect(
            LighterSendAnswer.classify(status: 400, body: body(#"{"code":23000,"message":"Too Many Requests"}"#))
                == .rateLimited(retryAfter: nil))
        for (status, text) in [
            (502, "<html>bad gateway</html>"), (200, "{\"code\":200}"), (200, "not json"), (400, "{\"message\":\"no code\"}"), (200, ""),
        ] {
            guard case .unknown = LighterSendAnswer.classify(status: status, body: body(text)) else {
                Issue.record("\(status) \(text) is not unknown")
                continue
            }
        }
        #expect(LighterSendAnswer.refused(code: 1, message: "").nonceAnswer == .refusedByAPI)
        #expect(LighterSendAnswer.unknown(reason: "").nonceAnswer == .unknown)
        #expect(LighterSendAnswer.accepted(txHash: "a").nonceAnswer == .accepted)
    }
}
