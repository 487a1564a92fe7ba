import Foundation
import Logging
import PerpExecution
import PerpHedge
import PerpLive
import PerpModel
import PerpStore
import PerpVenues
import Synchronization
import TestSupport
import Testing

/// The stake hedge running against the Lighter twin on 127.0.0.1: it follows a stake series
/// with the right short and collateral at every rebalance, warns before a liquidating price
/// path, and a restart in the middle of a rebalance sends nothing twice.
final class HedgeRig: Sendable {
    let twin: LighterTwin
    let trader: LighterTrader
    let stake = Mutex<Quantity>(Quantity(10))
    let stakeFails = Mutex(false)
    let lines = Mutex<[String]>([])
    let store: LiveStore

    init(collateral: Notional = Notional(2000), store: LiveStore? = nil) throws {
        twin = try LighterTwin(collateral: collateral, startMillis: 1_790_000_000_000)
        let twin = self.twin
        var endpoints = LighterEndpoints.mainnet
        endpoints.rest = URL(string: twin.baseURL)!
        let clock: @Sendable () -> Int64 = { twin.clock }
        trader = LighterTrader(
            endpoints: endpoints, market: 74, accountIndex: twin.accountIndex, apiKeyIndex: 4,
            signer: TwinLighterSigner(accountIndex: twin.accountIndex, apiKeyIndex: 4, clock: clock),
            transport: URLSessionTransport(timeout: 5), clock: clock, logger: Logger(label: "test"),
            sleeper: { duration in twin.advance(toMillis: twin.clock + Int64(duration.components.seconds * 1000)) })
        self.store = try store ?? LiveStore.inMemory()
    }

    static let k = CollateralPlan.multiple(g: Rate("3.06")!, alpha: Rate("1.1")!, maintenanceFraction: Rate("0.2")!)

    func config(k: Rate = HedgeRig.k, warnAt: Rate = Rate("0.5")!, pool: Bool = false) async throws -> HedgeSessionConfig {
        let rules = try await trader.rules()
        let settings = HedgeSettings(
            collateralMultiple: k, maintenanceFraction: Rate("0.2")!, rebalanceEvery: .days(30), drift: Rate("0.05")!, warnAt: warnAt,
            rules: rules, maxOrder: Quantity(1000), sessionTag: ClientOrderID.tag(session: "test", createdAt: Timestamp(milliseconds: 0)),
            crossMargin: pool)
        return HedgeSessionConfig(settings: settings, models: ["model_a"], tournament: "classic", leverage: 3, collateralSource: "test")
    }

    func runner(config: HedgeSessionConfig, dryRun: Bool = false, notifier: HedgeNotifier? = nil) -> HedgeRunner {
        let twin = self.twin
        return HedgeRunner(
            name: "test", config: config, store: store, venue: trader, venueName: "lighter",
            stakeSource: { [self] in
                if stakeFails.withLock({ $0 }) {
                    throw VenueError(kind: .retryable(retryAfterSeconds: nil), endpoint: "numerai", message: "down")
                }
                return stake.withLock { $0 }
            },
            clock: { Timestamp(milliseconds: twin.clock) }, logger: Logger(label: "test"), notifier: notifier, dryRun: dryRun,
            output: { [self] line in lines.withLock { $0.append(line) } },
            sleeper: { duration in twin.advance(toMillis: twin.clock + Int64(duration.components.seconds * 1000) + 1) })
    }

    /// `k·q·P` rounded up to the micro-dollar: what the hedge posts.
    static func required(k: Rate = HedgeRig.k, short: Quantity, price: Price) -> Notional {
        (Fraction(k) * Fraction(short) * Fraction(price)).rounded(to: Notional.self, .up)
    }

    func advance(_ span: TimeSpan) { twin.advance(toMillis: twin.clock + span.milliseconds) }

    /// What a process killed right after storing its first order leaves: the observation of a
    /// 10 NMR stake at 8.4603 and the order, stored; the order not sent. Returns the order.
    func storeFirstOrder(of runner: HedgeRunner, available: Notional) throws -> OrderIntent? {
        var copy = runner.session
        let observation = HedgeObservation(
            time: Timestamp(milliseconds: twin.clock), stake: Quantity(10), price: Price("8.4603")!, position: .zero,
            isolatedMargin: .zero, available: available)
        guard case .send(let intent)? = copy.apply(.observed(observation)).first(where: { if case .send = $0 { true } else { false } })
        else { return nil }
        let encoded = [HedgeInputCodec.encode(.observed(observation)), HedgeInputCodec.encode(.orderSent(intent))]
        try store.append(encoded.map { (Timestamp(milliseconds: twin.clock), $0.kind, $0.payload) }, journal: [])
        return intent
    }
}

@Suite("Stake hedge on the Lighter twin")
struct HedgeRunnerTests {
    @Test func followsAStakeSeriesWithTheRightShortAndCollateral() async throws {
        let rig = try HedgeRig()
        let config = try await rig.config()
        var runner = rig.runner(config: config)
        _ = try await runner.start(pid: 1)
        // (stake, price): rises and falls of both; every step drifts past 5 % or waits a period.
        let steps: [(String, String)] = [
            ("10", "8.4603"), ("12", "8.4603"), ("12", "9.1000"), ("9.5", "9.1000"), ("9.5", "8.2000"), ("20.25", "7.5000"),
            ("3", "7.5000"),
        ]
        var rebalances = 0
        for (stakeText, priceText) in steps {
            let stake = Quantity(stakeText)!
            let price = Price(priceText)!
            rig.stake.withLock { $0 = stake }
            rig.twin.setMark(price)
            rig.advance(.minutes(11))
            let status = try await runner.poll()
            rebalances += 1
            #expect(status.rebalances == rebalances, "after stake \(stake) at \(price)")
            #expect(rig.twin.positionQuantity == Quantity(raw: -stake.raw), "short after stake \(stake) at \(price)")
            let required = HedgeRig.required(short: stake, price: price)
            let margin = rig.twin.isolatedEquity
            #expect((margin - required).magnitude <= Notional("0.01")!, "collateral \(margin) vs k·q·P \(required)")
            #expect(status.state == "hedging")
        }
        // A poll with nothing new does nothing.
        let sent = rig.twin.acceptedTransactions.count
        rig.advance(.minutes(1))
        _ = try await runner.poll()
        #expect(rig.twin.acceptedTransactions.count == sent)
        // The period alone rebalances (no drift): nothing to trade, the collateral checked.
        rig.advance(.days(31))
        let status = try await runner.poll()
        #expect(status.rebalances == rebalances + 1)
        let journal = try rig.store.journal().map(\.line)
        #expect(journal.contains { $0.contains("the period (30d) has passed") })
        #expect(journal.contains { $0.contains("opening the hedge") })
    }

    @Test func warnsBeforeAnUnderCollateralisedShortLiquidates() async throws {
        let rig = try HedgeRig()
        // k = 0.3: liquidation at P·(1 + k)/(1 + M) ≈ 1.083·P; the warning half-way, ≈ 1.042·P.
        let config = try await rig.config(k: Rate("0.3")!)
        var runner = rig.runner(config: config)
        _ = try await runner.start(pid: 1)
        rig.advance(.minutes(11))
        _ = try await runner.poll()
        let liquidation = try #require(runner.status().liquidationPrice)
        let warning = try #require(runner.status().warningPrice)
        #expect(warning < liquidation)
        var price = Price("8.4603")!
        var warnedAt: Price?
        while price < liquidation, warnedAt == nil {
            price = price + Price("0.02")!
            rig.twin.setMark(price)
            rig.advance(.minutes(1))
            _ = try await runner.poll()
            if rig.lines.withLock({ $0.contains { $0.contains("  warning  ") } }) { warnedAt = price }
        }
        let at = try #require(warnedAt, "no warning before the price reached the liquidation price \(liquidation)")
        #expect(at >= warning)
        #expect(at < liquidation)
        #expect(rig.lines.withLock { $0.contains { $0.contains("has crossed the warning price") } })
    }

    @Test func aLostAnswerMidRebalanceIsLookedUpAndNothingIsSentTwice() async throws {
        let rig = try HedgeRig()
        let config = try await rig.config()
        var runner = rig.runner(config: config)
        _ = try await runner.start(pid: 1)
        rig.twin.updateFaults { $0.dropAnswerAfterExecution = 1 }
        rig.advance(.minutes(11))
        _ = try await runner.poll()
        #expect(rig.twin.allOrders.count == 1)
        #expect(rig.twin.positionQuantity == Quantity(-10))
        let required = HedgeRig.required(short: Quantity(10), price: Price("8.4603")!)
        #expect((rig.twin.isolatedEquity - required).magnitude <= Notional("0.01")!)
    }

    @Test func aCrashAfterRecordingAnOrderLooksItUpOnRestart() async throws {
        let rig = try HedgeRig()
        let config = try await rig.config()
        var first = rig.runner(config: config)
        _ = try await first.start(pid: 1)
        // The order leaves, its answer is lost and the process dies before storing anything more.
        rig.twin.updateFaults { $0.dropAnswerAfterExecution = 1 }
        rig.advance(.minutes(11))
        let intent = try #require(try rig.storeFirstOrder(of: first, available: Notional(2000)))
        _ = await rig.trader.submit(intent)
        #expect(rig.twin.allOrders.count == 1)
        // A new process on the same store.
        var second = rig.runner(config: config)
        let replayed = try await second.start(pid: 2)
        #expect(replayed >= 3)
        #expect(second.session.unresolvedOrders.isEmpty)
        _ = try await second.poll()
        #expect(rig.twin.allOrders.count == 1)
        #expect(rig.twin.positionQuantity == Quantity(-10))
        let required = HedgeRig.required(short: Quantity(10), price: Price("8.4603")!)
        #expect((rig.twin.isolatedEquity - required).magnitude <= Notional("0.01")!)
    }

    @Test func aRestartMidRebalanceReplansToTheStakeNowAndNotTheStaleOne() async throws {
        let rig = try HedgeRig(collateral: Notional(5000))
        let config = try await rig.config()
        var first = rig.runner(config: config)
        _ = try await first.start(pid: 1)
        // The first process opens the 10 NMR short and dies before posting the collateral.
        let intent = try #require(try rig.storeFirstOrder(of: first, available: Notional(5000)))
        _ = await rig.trader.submit(intent)
        // While no process runs, the stake grows to 23.51 and the price moves.
        rig.stake.withLock { $0 = Quantity("23.51")! }
        rig.twin.setMark(Price("9.1")!)
        var second = rig.runner(config: config)
        _ = try await second.start(pid: 2)
        let status = try await second.poll()
        #expect(rig.twin.positionQuantity == Quantity("-23.51")!)
        let required = HedgeRig.required(short: Quantity("23.51")!, price: Price("9.1")!)
        #expect((rig.twin.isolatedEquity - required).magnitude <= Notional("0.01")!, "collateral \(rig.twin.isolatedEquity) vs \(required)")
        #expect(status.rebalances == 1)
        let journal = try rig.store.journal().map(\.line)
        #expect(journal.contains { $0.contains("re-planned (after a restart") })
        #expect(rig.twin.allOrders.count == 2, "one order to 10, one for the 13.51 more: never to 10 and back")
    }

    @Test func aLostMarginAnswerIsWaitedOutWithinThePoll() async throws {
        let rig = try HedgeRig()
        let config = try await rig.config()
        var runner = rig.runner(config: config)
        _ = try await runner.start(pid: 1)
        _ = try await runner.poll()
        #expect(runner.session.rebalances == 1)
        // The price moves 8 %: only the collateral changes, and the margin move's answer is lost.
        rig.twin.setMark(Price("9.1372")!)
        rig.twin.updateFaults { $0.dropAnswerAfterExecution = 1 }
        rig.advance(.minutes(1))
        let moves = rig.twin.acceptedTransactions.filter { $0.type == 29 }.count
        let status = try await runner.poll()
        #expect(rig.twin.acceptedTransactions.filter { $0.type == 29 }.count == moves + 1, "the move is never sent twice")
        #expect(status.rebalances == 2, "the rebalance ends in the poll, after the venue shows the move")
        #expect(runner.session.target == nil)
        let required = HedgeRig.required(short: Quantity(10), price: Price("9.1372")!)
        #expect((rig.twin.isolatedEquity - required).magnitude <= Notional("0.01")!)
    }

    @Test func aRecordedOrderThatNeverLeftIsDecidedAgainOnce() async throws {
        let rig = try HedgeRig()
        let config = try await rig.config()
        var first = rig.runner(config: config)
        _ = try await first.start(pid: 1)
        _ = try #require(try rig.storeFirstOrder(of: first, available: Notional(2000)))
        // Killed before the send: the venue never saw it.
        var second = rig.runner(config: config)
        _ = try await second.start(pid: 2)
        _ = try await second.poll()
        #expect(rig.twin.allOrders.count == 1)
        #expect(rig.twin.positionQuantity == Quantity(-10))
        let journal = try rig.store.journal().map(\.line)
        #expect(journal.contains { $0.contains("never reached the venue") })
    }

    @Test func dryRunSendsNothingAndSaysWhatItWouldDo() async throws {
        let rig = try HedgeRig()
        let config = try await rig.config()
        var runner = rig.runner(config: config, dryRun: true)
        _ = try await runner.start(pid: 1)
        rig.advance(.minutes(11))
        _ = try await runner.poll()
        _ = try await runner.poll()
        #expect(rig.twin.acceptedTransactions.isEmpty)
        let said = rig.lines.withLock {
            $0.filter { $0.contains("dry run: would sell 10.00000000 NMR") || $0.contains("dry run: would sell 10 NMR") }
        }
        #expect(said.count == 1)
    }

    @Test func stopWithCloseBuysTheShortBack() async throws {
        let rig = try HedgeRig()
        let config = try await rig.config()
        var runner = rig.runner(config: config)
        _ = try await runner.start(pid: 1)
        rig.advance(.minutes(11))
        _ = try await runner.poll()
        #expect(rig.twin.positionQuantity == Quantity(-10))
        _ = try rig.store.requestStop(flatten: true, reason: "test", at: Timestamp(milliseconds: rig.twin.clock))
        rig.advance(.minutes(1))
        let status = try await runner.poll()
        #expect(rig.twin.positionQuantity == .zero)
        #expect(status.state == "stopped")
        // Nothing more after the stop.
        rig.stake.withLock { $0 = Quantity(30) }
        rig.advance(.days(40))
        _ = try await runner.poll()
        #expect(rig.twin.positionQuantity == .zero)
    }

    @Test func numeraiDownMeansNoNewRebalanceButTheLastStakeHolds() async throws {
        let rig = try HedgeRig()
        let config = try await rig.config()
        var runner = rig.runner(config: config)
        _ = try await runner.start(pid: 1)
        rig.advance(.minutes(11))
        _ = try await runner.poll()
        rig.stakeFails.withLock { $0 = true }
        rig.twin.setMark(Price("9.5")!)
        rig.advance(.minutes(11))
        let status = try await runner.poll()
        // The price drift rebalances on the last known stake.
        #expect(rig.twin.positionQuantity == Quantity(-10))
        #expect((rig.twin.isolatedEquity - HedgeRig.required(short: Quantity(10), price: Price("9.5")!)).magnitude <= Notional("0.01")!)
        #expect(status.stake == Quantity(10))
        #expect(try rig.store.journal().contains { $0.line.contains("Numerai stake of model_a") })
    }

    @Test func aPoolKeepsItsShortAtNAVOverKUnderCrossMargin() async throws {
        let rig = try HedgeRig(collateral: Notional(1000))
        let config = try await rig.config(pool: true)
        var runner = rig.runner(config: config)
        _ = try await runner.start(pid: 1)
        #expect(!rig.twin.marginIsIsolated)
        rig.advance(.minutes(11))
        _ = try await runner.poll()
        func expected(_ nav: Notional, _ price: Price) -> Quantity {
            HedgeRunner.poolShort(nav: nav, price: price, settings: config.settings)
        }
        // 1000 / (2.7332 × 8.4603) = 43.24… → 43.24 NMR.
        #expect(rig.twin.positionQuantity == Quantity(raw: -expected(Notional(1000), Price("8.4603")!).raw))
        #expect(rig.twin.positionQuantity == Quantity("-43.24")!, "\(rig.lines.withLock { $0 })")
        #expect(rig.twin.isolatedMargin == .zero)
        // Depositors add 500 USDC: the NAV moved past the drift, so the short grows with it.
        rig.twin.adjustCollateral(by: Notional(500))
        rig.advance(.minutes(11))
        let status = try await runner.poll()
        #expect(rig.twin.positionQuantity == Quantity(raw: -expected(Notional(1500), Price("8.4603")!).raw))
        #expect(status.rebalances == 2)
        // A withdrawal shrinks it (reduce-only).
        rig.twin.adjustCollateral(by: Notional(-900))
        rig.advance(.minutes(11))
        _ = try await runner.poll()
        #expect(rig.twin.positionQuantity == Quantity(raw: -expected(Notional(600), Price("8.4603")!).raw))
        #expect(rig.twin.acceptedTransactions.allSatisfy { $0.type != 29 }, "no margin moves under cross margin")
    }

    @Test func theSameHedgeRunsOnBinanceUSDM() async throws {
        // The adapter's clock is the twin's own: requests are stamped with the venue's time
        // however slowly a loaded machine runs them (a real clock drifted past recvWindow in CI).
        func realNow() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
        let start = Timestamp(milliseconds: (realNow() / 60_000 - 100) * 60_000)
        let twin = try BinanceUSDMTwin(
            bars: LiveFixtures.zigzag(from: start, count: 400), intervalMillis: 60_000, startMillis: realNow(), wallet: Notional(10_000))
        defer { twin.shutdown() }
        twin.setPrice(Price("8.46")!)
        let trader = BinanceUSDMTrader(
            baseURL: URL(string: twin.baseURL)!,
            credentials: BinanceCredentials(apiKey: "twin-test-api-key", secret: "twin-test-secret-not-real"),
            symbol: "NMRUSDT", transport: URLSessionTransport(timeout: 5), clock: { twin.nowMillis },
            logger: Logger(label: "test"), sleeper: { _ in })
        let rules = try await trader.rules()
        let settings = HedgeSettings(
            collateralMultiple: HedgeRig.k, maintenanceFraction: Rate("0.2")!, rebalanceEvery: .days(30), drift: Rate("0.05")!,
            warnAt: Rate("0.5")!, rules: rules, maxOrder: Quantity(1000), sessionTag: "binhedge")
        let config = HedgeSessionConfig(
            settings: settings, models: ["model_a"], tournament: "classic", leverage: 3, collateralSource: "test")
        let box = StakeBox()
        var runner = HedgeRunner(
            name: "binance", config: config, store: try LiveStore.inMemory(), venue: trader, venueName: "binance-usdm",
            stakeSource: { box.value.withLock { $0 } }, clock: { Timestamp(milliseconds: twin.nowMillis) },
            logger: Logger(label: "test"), notifier: nil, dryRun: false, output: { _ in }, sleeper: { _ in })
        _ = try await runner.start(pid: 1)
        twin.advance(toMillis: twin.nowMillis + 60_000)
        _ = try await runner.poll()
        let journal = (try? runner.store.journal().map(\.line)) ?? []
        #expect(twin.position.quantity == Quantity(-10), "\(journal)")
        let required = HedgeRig.required(short: Quantity(10), price: Price("8.46")!)
        #expect(
            (twin.isolatedMargin - required).magnitude <= Notional("0.01")!, "isolated margin \(twin.isolatedMargin) vs k·q·P \(required)")
        // The stake grows 30 %: the short follows and the collateral is topped up.
        box.value.withLock { $0 = Quantity(13) }
        runner.stakeEvery = .seconds(0)
        twin.advance(toMillis: twin.nowMillis + 60_000)
        _ = try await runner.poll()
        #expect(twin.position.quantity == Quantity(-13))
        #expect((twin.isolatedMargin - HedgeRig.required(short: Quantity(13), price: Price("8.46")!)).magnitude <= Notional("0.01")!)
        // The price falls 10 %: the excess collateral is withdrawn.
        twin.setPrice(Price("7.614")!)
        twin.advance(toMillis: twin.nowMillis + 60_000)
        _ = try await runner.poll()
        #expect((twin.isolatedMargin - HedgeRig.required(short: Quantity(13), price: Price("7.614")!)).magnitude <= Notional("0.01")!)
    }

    @Test func warningsAndActionsReachTheWebhookAndAFailingOneNeverBlocks() async throws {
        let received = TextBox()
        let webhook = try LoopbackHTTPServer { request in
            received.value.withLock { $0.append(String(decoding: request.body, as: UTF8.self)) }
            return .json("{}")
        }
        let rig = try HedgeRig()
        let notifier = HedgeNotifier(
            url: URL(string: "http://127.0.0.1:\(webhook.port)/hook")!, transport: URLSessionTransport(timeout: 5), name: "test",
            logger: Logger(label: "test"), sleeper: { _ in })
        var runner = rig.runner(config: try await rig.config(k: Rate("0.4")!), notifier: notifier)
        _ = try await runner.start(pid: 1)
        rig.advance(.minutes(11))
        _ = try await runner.poll()
        let warning = try #require(runner.status().warningPrice)
        rig.twin.setMark(warning + Price("0.01")!)
        rig.advance(.minutes(1))
        _ = try await runner.poll()
        await notifier.flush()
        let bodies = received.value.withLock { $0 }
        #expect(bodies.contains { $0.contains(#""event":"warning""#) && $0.contains("crossed the warning price") }, "\(bodies)")
        #expect(bodies.contains { $0.contains(#""event":"rebalance""#) })
        #expect(bodies.allSatisfy { (try? JSONParser.parse($0))?["text"]?.stringValue?.hasPrefix("nmrperp hedge test: ") == true })
        webhook.stop()

        // A webhook that always fails: three attempts each, logged, and the hedge goes on.
        let failing = try LoopbackHTTPServer { _ in .status(500) }
        let stubborn = HedgeNotifier(
            url: URL(string: "http://127.0.0.1:\(failing.port)/hook")!, transport: URLSessionTransport(timeout: 5), name: "test",
            logger: Logger(label: "test"), sleeper: { _ in })
        let other = try HedgeRig()
        var second = other.runner(config: try await other.config(), notifier: stubborn)
        _ = try await second.start(pid: 1)
        other.advance(.minutes(11))
        _ = try await second.poll()
        #expect(other.twin.positionQuantity == Quantity(-10))
        await stubborn.flush()
        #expect(await stubborn.failed >= 1)
        #expect(await stubborn.delivered == 0)
        #expect(failing.requests.count == 3 * (await stubborn.failed))
        failing.stop()
    }
}

final class TextBox: Sendable {
    let value = Mutex<[String]>([])
}

final class StakeBox: Sendable {
    let value = Mutex(Quantity(10))
}
