import Foundation
import Logging
import PerpExecution
import PerpModel
import TestSupport
import Testing

@testable import PerpVenues

// The Lighter trading adapter against the Lighter twin on 127.0.0.1 (lighter-live.md §4–§5):
// nonces, faults, the unknown-outcome rule, the dead man's switch, isolated margin.

struct LighterRig {
    let twin: LighterTwin
    let signer: TwinLighterSigner
    let sleeps = SleepRecorder()
    let trader: LighterTrader

    init(collateral: Notional = Notional(1000), nonce: Int64 = 17) throws {
        let twin = try LighterTwin(collateral: collateral, nonce: nonce, startMillis: 1_790_000_000_000)
        self.twin = twin
        let clock: @Sendable () -> Int64 = { twin.clock }
        signer = TwinLighterSigner(accountIndex: twin.accountIndex, apiKeyIndex: Int32(twin.apiKeyIndex), clock: clock)
        var endpoints = LighterEndpoints.mainnet
        endpoints.rest = URL(string: twin.baseURL)!
        trader = LighterTrader(
            endpoints: endpoints, market: twin.market, accountIndex: twin.accountIndex, apiKeyIndex: Int32(twin.apiKeyIndex),
            signer: signer, transport: URLSessionTransport(timeout: 5), clock: clock, logger: Logger(label: "test"),
            sleeper: sleeps.sleeper)
    }

    func intent(
        _ sequence: Int64, _ side: Side, _ quantity: String, kind: OrderKind = .market, trigger: String? = nil, reduceOnly: Bool = false
    )
        -> OrderIntent
    {
        let purpose: OrderPurpose = kind == .market ? (reduceOnly ? .killSwitch : .entry) : kind == .stopMarket ? .stop : .target
        return OrderIntent(
            sequence: sequence, clientID: ClientOrderID.make(tag: "lightert", sequence: sequence, purpose: purpose), kind: kind,
            purpose: purpose, side: side, quantity: Quantity(quantity)!, triggerPrice: trigger.flatMap { Price($0) },
            reduceOnly: reduceOnly, createdAt: Timestamp(milliseconds: twin.clock))
    }

    var sendTxCount: Int { twin.requests.filter { $0.path == "/api/v1/sendTx" }.count }
}

@Suite("Lighter trading adapter")
struct LighterTraderTests {
    @Test func rulesComeFromOrderBookDetails() async throws {
        let rig = try LighterRig()
        let rules = try await rig.trader.rules()
        #expect(rules.tickSize == Price("0.0001")!)
        #expect(rules.lotSize == Quantity("0.01")!)
        #expect(rules.minNotional == Notional(1))
        #expect(rules.symbol == "NMR")
    }

    @Test func prepareSetsIsolatedLeverageAndRefusesMoreThanTheMarketAllows() async throws {
        let rig = try LighterRig()
        try await rig.trader.prepare(leverage: 2, isolated: true)
        #expect(rig.twin.leverageFraction == 5000)
        #expect(rig.twin.marginIsIsolated)
        await #expect(throws: VenueError.self) { try await rig.trader.prepare(leverage: 5, isolated: true) }
        let form = try #require(rig.twin.requests.first { $0.path == "/api/v1/sendTx" })
        #expect(form.bodyText.hasPrefix("tx_type=20&tx_info=%7B%22AccountIndex%22"))
    }

    @Test func marketOrderFillsAndShowsInTheSnapshotUnderOurID() async throws {
        let rig = try LighterRig()
        try await rig.trader.prepare(leverage: 2, isolated: true)
        let entry = rig.intent(1, .short, "10")
        let outcome = await rig.trader.submit(entry)
        guard case .accepted(let order) = outcome else {
            Issue.record("expected accepted, got \(outcome)")
            return
        }
        #expect(order.status == .filled)
        #expect(order.clientID == entry.clientID)
        #expect(order.filledQuantity == Quantity(10))
        #expect(order.averagePrice == Price("8.4603")!)
        #expect(rig.twin.positionQuantity == Quantity(-10))
        // The worst acceptable price of a sell: 2 % under the mark, on the tick.
        let placed = try #require(rig.twin.allOrders.first)
        #expect(placed.price == 82910)
        #expect(placed.clientOrderIndex == LighterClientOrderIndex.make(entry.clientID))
        let snapshot = try await rig.trader.snapshot(fillsSince: Timestamp(milliseconds: 0))
        #expect(snapshot.position.quantity == Quantity(-10))
        #expect(snapshot.position.isolatedMargin == Notional("42.30150000")!)
        #expect(snapshot.position.leverage == 2)
        #expect(snapshot.fills.count == 1)
        #expect(snapshot.fills.first?.clientID == entry.clientID)
        #expect(snapshot.fills.first?.side == .short)
        #expect(snapshot.fills.first?.quantity == Quantity(10))
        #expect(snapshot.balance.wallet == Notional(1000))
    }

    @Test func restingStopIsNamedBackAfterARestartAndCancels() async throws {
        let rig = try LighterRig()
        try await rig.trader.prepare(leverage: 2, isolated: true)
        _ = await rig.trader.submit(rig.intent(1, .short, "10"))
        let stop = rig.intent(2, .long, "10", kind: .stopMarket, trigger: "9.5", reduceOnly: true)
        guard case .accepted(let resting) = await rig.trader.submit(stop) else {
            Issue.record("stop not accepted")
            return
        }
        #expect(resting.status == .accepted)
        #expect(resting.triggerPrice == Price("9.5")!)
        // A new process knows the id only when told.
        let fresh = try LighterRig.restarted(rig)
        let before = try await fresh.snapshot(fillsSince: Timestamp(milliseconds: 0))
        #expect(before.openOrders.first?.clientID.hasPrefix("lighter-") == true)
        await fresh.track(clientIDs: [stop.clientID])
        let after = try await fresh.snapshot(fillsSince: Timestamp(milliseconds: 0))
        #expect(after.openOrders.map(\.clientID) == [stop.clientID])
        let cancelled = await fresh.cancel(clientID: stop.clientID, kind: .stopMarket)
        guard case .cancelled(let order) = cancelled else {
            Issue.record("expected cancelled, got \(cancelled)")
            return
        }
        #expect(order?.status == .cancelled)
        // Cancelling it again is harmless: the venue still shows it cancelled.
        guard case .cancelled = await fresh.cancel(clientID: stop.clientID, kind: .stopMarket) else {
            Issue.record("expected cancelled again")
            return
        }
        #expect(rig.twin.allOrders.count == 2)
    }

    @Test func stopTriggersOnTheMarkAndClosesTheShort() async throws {
        let rig = try LighterRig()
        try await rig.trader.prepare(leverage: 2, isolated: true)
        _ = await rig.trader.submit(rig.intent(1, .short, "10"))
        let stop = rig.intent(2, .long, "10", kind: .stopMarket, trigger: "9.5", reduceOnly: true)
        _ = await rig.trader.submit(stop)
        rig.twin.setMark(Price("9.6")!)
        #expect(rig.twin.positionQuantity == .zero)
        let found = await rig.trader.lookup(clientID: stop.clientID, kind: .stopMarket)
        guard case .found(let order) = found else {
            Issue.record("expected found, got \(found)")
            return
        }
        #expect(order.status == .filled)
        let snapshot = try await rig.trader.snapshot(fillsSince: Timestamp(milliseconds: 0))
        #expect(snapshot.fills.map(\.clientID) == [rig.intent(1, .short, "10").clientID, stop.clientID])
        #expect(snapshot.position.quantity == .zero)
    }

    @Test func invalidNonceIsResyncedAndSignedAgain() async throws {
        let rig = try LighterRig(nonce: 40)
        rig.twin.updateFaults { $0.invalidNonce = 1 }
        let outcome = await rig.trader.submit(rig.intent(1, .short, "1"))
        guard case .accepted = outcome else {
            Issue.record("expected accepted, got \(outcome)")
            return
        }
        #expect(rig.twin.acceptedTransactions.map(\.nonce) == [40])
        #expect(await rig.trader.nonceResyncs == 2)
        #expect(rig.signer.signed == 2)
    }

    @Test func aNonceGapFromAnotherSenderRecovers() async throws {
        let rig = try LighterRig(nonce: 5)
        _ = await rig.trader.submit(rig.intent(1, .short, "1"))
        // Another process used the same key twice: our next nonce (6) is stale.
        rig.twin.updateFaults { $0.acceptNonceGaps = true }
        let other = TwinLighterSigner(accountIndex: rig.twin.accountIndex, apiKeyIndex: 4, clock: { rig.twin.clock })
        for nonce in Int64(6)...7 {
            let tx = try other.cancelAll(timeInForce: 2, time: 0, market: 255, nonce: nonce)
            _ = try await URLSessionTransport().send(
                method: "POST", url: URL(string: rig.twin.baseURL + "/api/v1/sendTx")!, headers: [:],
                body: Array(BinanceSigner.encode([("tx_type", "16"), ("tx_info", tx.info)]).utf8))
        }
        rig.twin.updateFaults { $0.acceptNonceGaps = false }
        let outcome = await rig.trader.submit(rig.intent(2, .short, "1"))
        guard case .accepted = outcome else {
            Issue.record("expected accepted, got \(outcome)")
            return
        }
        #expect(rig.twin.acceptedTransactions.map(\.nonce) == [5, 6, 7, 8])
        #expect(rig.twin.positionQuantity == Quantity(-2))
    }

    @Test func rateLimitedReadsAreWaitedOutAndRetried() async throws {
        let rig = try LighterRig()
        rig.twin.updateFaults { $0.rateLimited = 2 }
        let rules = try await rig.trader.rules()
        #expect(rules.lotSize == Quantity("0.01")!)
        #expect(rig.sleeps.durations == [.seconds(1), .seconds(1)])
    }

    @Test func rateLimitedSendTxResendsTheSameSignedTransaction() async throws {
        let rig = try LighterRig()
        rig.twin.updateFaults { $0.rateLimitedSendTx = 2 }
        let outcome = await rig.trader.submit(rig.intent(1, .short, "1"))
        guard case .accepted = outcome else {
            Issue.record("expected accepted, got \(outcome)")
            return
        }
        #expect(rig.twin.allOrders.count == 1)
        #expect(rig.signer.signed == 1)
        #expect(rig.sendTxCount == 3)
        #expect(rig.sleeps.durations == [.seconds(1), .seconds(1)])
    }

    @Test func lostAnswerIsLookedUpNeverSignedAgain() async throws {
        let rig = try LighterRig()
        _ = try await rig.trader.rules()
        rig.twin.updateFaults { $0.dropAnswerAfterExecution = 1 }
        let entry = rig.intent(1, .short, "3")
        let outcome = await rig.trader.submit(entry)
        guard case .unknown = outcome else {
            Issue.record("expected unknown, got \(outcome)")
            return
        }
        #expect(rig.signer.signed == 1)
        let found = await rig.trader.lookup(clientID: entry.clientID, kind: .market)
        guard case .found(let order) = found else {
            Issue.record("expected found, got \(found)")
            return
        }
        #expect(order.status == .filled)
        #expect(rig.twin.positionQuantity == Quantity(-3))
        // The sequence was re-read: the next transaction takes the consumed nonce's successor.
        _ = await rig.trader.submit(rig.intent(2, .short, "1"))
        #expect(rig.twin.acceptedTransactions.map(\.nonce) == [17, 18])
    }

    @Test func serverErrorBeforeExecutionIsNotFoundThenSentOnce() async throws {
        let rig = try LighterRig()
        _ = try await rig.trader.rules()
        rig.twin.updateFaults { $0.serverErrorBeforeExecution = 1 }
        let entry = rig.intent(1, .short, "2")
        guard case .unknown = await rig.trader.submit(entry) else {
            Issue.record("expected unknown")
            return
        }
        #expect(await rig.trader.lookup(clientID: entry.clientID, kind: .market) == .notFound)
        guard case .accepted = await rig.trader.submit(entry) else {
            Issue.record("expected the resend accepted")
            return
        }
        #expect(rig.twin.allOrders.count == 1)
        #expect(rig.twin.positionQuantity == Quantity(-2))
    }

    @Test func refusedKeyStopsAllSigning() async throws {
        let rig = try LighterRig()
        _ = try await rig.trader.rules()
        rig.twin.updateFaults { $0.rejectKey = true }
        guard case .rejected(let code, let message) = await rig.trader.submit(rig.intent(1, .short, "1")) else {
            Issue.record("expected rejected")
            return
        }
        #expect(code == 21120)
        #expect(message.contains("API key 4"))
        let sent = rig.sendTxCount
        rig.twin.updateFaults { $0.rejectKey = false }
        guard case .rejected = await rig.trader.submit(rig.intent(2, .short, "1")) else {
            Issue.record("expected rejected without sending")
            return
        }
        #expect(rig.sendTxCount == sent)
    }

    @Test func marginRefusalIsDefinitive() async throws {
        let rig = try LighterRig(collateral: Notional(10))
        try await rig.trader.prepare(leverage: 2, isolated: true)
        let outcome = await rig.trader.submit(rig.intent(1, .short, "100"))
        guard case .accepted(let order) = outcome else {
            Issue.record("expected the venue's answer, got \(outcome)")
            return
        }
        // Accepted by the API, cancelled by the sequencer on margin: nothing traded.
        #expect(order.status == .rejected)
        #expect(rig.twin.positionQuantity == .zero)
    }

    @Test func deadMansSwitchIsScheduledRefreshedSparinglyAndAborted() async throws {
        let rig = try LighterRig()
        try await rig.trader.heartbeat(countdown: .seconds(120))
        let first = try #require(rig.twin.scheduledCancelAll)
        #expect(first == rig.twin.clock + TimeSpan.minutes(10).milliseconds)
        try await rig.trader.heartbeat(countdown: .seconds(120))
        #expect(rig.twin.acceptedTransactions.count == 1)
        rig.twin.advance(toMillis: rig.twin.clock + TimeSpan.minutes(6).milliseconds)
        try await rig.trader.heartbeat(countdown: .seconds(120))
        #expect(rig.twin.acceptedTransactions.count == 2)
        #expect(rig.twin.scheduledCancelAll == rig.twin.clock + TimeSpan.minutes(10).milliseconds)
        try await rig.trader.heartbeat(countdown: TimeSpan(milliseconds: 0))
        #expect(rig.twin.scheduledCancelAll == nil)
    }

    @Test func deadMansSwitchCancelsRestingOrdersWhenTheProcessIsGone() async throws {
        let rig = try LighterRig()
        try await rig.trader.prepare(leverage: 2, isolated: true)
        _ = await rig.trader.submit(rig.intent(1, .short, "10"))
        _ = await rig.trader.submit(rig.intent(2, .long, "10", kind: .stopMarket, trigger: "9.5", reduceOnly: true))
        try await rig.trader.heartbeat(countdown: .seconds(120))
        rig.twin.advance(toMillis: rig.twin.clock + TimeSpan.minutes(11).milliseconds)
        #expect(rig.twin.allOrders.filter { $0.status == "open" }.isEmpty)
    }

    @Test func isolatedMarginMovesInAndOut() async throws {
        let rig = try LighterRig()
        try await rig.trader.prepare(leverage: 2, isolated: true)
        _ = await rig.trader.submit(rig.intent(1, .short, "10"))
        #expect(await rig.trader.moveMargin(Notional("57.6985")!, add: true) == .done)
        #expect(rig.twin.isolatedMargin == Notional(100))
        #expect(await rig.trader.moveMargin(Notional(50), add: false) == .done)
        #expect(rig.twin.isolatedMargin == Notional(50))
        // Below the initial margin: refused by the venue, nothing moved.
        guard case .refused = await rig.trader.moveMargin(Notional(40), add: false) else {
            Issue.record("expected refused")
            return
        }
        #expect(rig.twin.isolatedMargin == Notional(50))
        guard case .refused = await rig.trader.moveMargin(Notional("0.0000001")!, add: true) else {
            Issue.record("expected refused")
            return
        }
        let state = try await rig.trader.hedgeState()
        #expect(state.position.quantity == Quantity(-10))
        #expect(state.position.isolatedMargin == Notional(50))
        #expect(state.mark == Price("8.4603")!)
        #expect(state.fundingPaid == .zero)
        #expect(state.balance.available == Notional(950))
    }

    @Test func requestsStayUnderSixtyAMinute() async throws {
        let rig = try LighterRig()
        for _ in 0..<60 { _ = await rig.trader.lookup(clientID: "np-aaaaaaaa-1e", kind: .market) }
        // 55 in the minute (the clock stands still here), then one wait for the window to pass.
        #expect(rig.sleeps.durations == [.seconds(60)])
        #expect(rig.twin.requests.count == 61)
    }

    @Test func accountStreamDeliversOrdersAndFillsAndComesBackAfterADrop() async throws {
        let rig = try LighterRig()
        _ = try await rig.trader.rules()
        let stream = try #require(await rig.trader.events())
        let events = EventLog()
        let reader = Task { for await event in stream { await events.add(event) } }
        defer { reader.cancel() }
        try await waitFor("the stream to connect") { rig.twin.streamConnections == 1 }
        let entry = rig.intent(1, .short, "2")
        _ = await rig.trader.submit(entry)
        try await waitFor("the order and its fill on the stream") {
            await events.contains { event in
                if case .fill(let fill) = event { return fill.clientID == entry.clientID && fill.quantity == Quantity(2) }
                return false
            }
        }
        #expect(
            await events.contains { event in
                if case .order(let order) = event { return order.clientID == entry.clientID && order.status == .filled }
                return false
            })
        // The stream drops: lost, then restored after the reconnection, and it carries on.
        rig.twin.dropStreams()
        try await waitFor("the loss to be reported") {
            await events.contains { if case .streamLost = $0 { return true } else { return false } }
        }
        try await waitFor("the stream to come back") {
            await events.contains { if case .streamRestored = $0 { return true } else { return false } }
        }
        let second = rig.intent(2, .short, "1")
        _ = await rig.trader.submit(second)
        try await waitFor("the second fill on the new connection") {
            await events.contains { event in
                if case .fill(let fill) = event { return fill.clientID == second.clientID }
                return false
            }
        }
    }

    @Test func wireReadsTheRecordedAccount() throws {
        guard let data = SharedData.data("api/lighter/real_account_trimmed.json") else {
            print(SharedData.missingMessage("api/lighter/real_account_trimmed.json"))
            return
        }
        let json = try JSONParser.parse(Array(data))
        let account = try #require(LighterWire.account(json, index: 702_384))
        let scale = try #require(LighterScale(market: 74, sizeDecimals: 2, priceDecimals: 4))
        let position = try #require(LighterWire.position(account, scale: scale))
        #expect(position.quantity == Quantity("-0.85")!)
        #expect(position.entryPrice == Price("8.3569")!)
        #expect(position.leverage == 3)
        #expect(LighterWire.balance(account)?.wallet == Notional("1837526.962274")!)
    }

    @Test func clientOrderIndicesAreStableAndInRange() {
        let ids = (1...2000).map { ClientOrderID.make(tag: "abcdefgh", sequence: Int64($0), purpose: .entry) }
        let indices = ids.map(LighterClientOrderIndex.make)
        #expect(Set(indices).count == ids.count)
        #expect(indices.allSatisfy { (1...LighterClientOrderIndex.maximum).contains($0) })
        #expect(LighterClientOrderIndex.make("np-abcdefgh-1e") == LighterClientOrderIndex.make("np-abcdefgh-1e"))
    }
}

extension LighterRig {
    /// A second adapter on the same twin and key: a new process.
    static func restarted(_ rig: LighterRig) throws -> LighterTrader {
        var endpoints = LighterEndpoints.mainnet
        endpoints.rest = URL(string: rig.twin.baseURL)!
        let twin = rig.twin
        return LighterTrader(
            endpoints: endpoints, market: twin.market, accountIndex: twin.accountIndex, apiKeyIndex: Int32(twin.apiKeyIndex),
            signer: rig.signer, transport: URLSessionTransport(timeout: 5), clock: { twin.clock }, logger: Logger(label: "test"),
            sleeper: rig.sleeps.sleeper)
    }
}

/// What a stream delivered, in order.
actor EventLog {
    private(set) var events: [VenueEvent] = []
    func add(_ event: VenueEvent) { events.append(event) }
    var count: Int { events.count }
    func contains(_ predicate: (VenueEvent) -> Bool) -> Bool { events.contains(where: predicate) }
}

/// Waits (at most 10 s, in 20 ms steps) until `condition` holds.
func waitFor(_ what: String, _ condition: () async -> Bool) async throws {
    for _ in 0..<500 {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting for \(what)")
    throw CancellationError()
}
