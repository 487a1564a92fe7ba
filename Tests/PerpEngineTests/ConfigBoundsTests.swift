import PerpEngine
import PerpModel
import PerpSimulation
import Testing

/// Issue 11: every bot setting has a range the engine runs, the checks name the limit, and a
/// kernel built in code with values the checks refuse never traps.
@Suite struct ConfigBoundsTests {
    static let huge = TimeSpan(milliseconds: 106_751_991_167 * 86_400_000)

    @Test func theDefaultsHaveNoProblems() {
        #expect(BotConfig().problems().isEmpty)
    }

    @Test func theIssuesConfigurationsAreRefusedNamingTheLimit() {
        var leverage = BotConfig()
        leverage.risk.maxLeverage = Rate(1_000_000)
        #expect(leverage.problems() == ["risk.max_leverage must be from 1 to 1000 (got 1000000)"])

        var momentum = BotConfig()
        momentum.signals.momentumWindow = Self.huge
        #expect(momentum.problems() == ["signals.momentum_window must be at most 100 years (36525d) (got 106751991167d)"])

        var cooldown = BotConfig()
        cooldown.risk.circuitCooldown = Self.huge
        #expect(cooldown.problems() == ["risk.circuit_cooldown must be at most 100 years (36525d) (got 106751991167d)"])
    }

    @Test func everySpanIsBoundedAndPositive() {
        let spans: [(WritableKeyPath<BotConfig, TimeSpan>, String)] = [
            (\.signals.momentumWindow, "signals.momentum_window"), (\.signals.meanReversionWindow, "signals.mean_reversion_window"),
            (\.signals.stakeWindow, "signals.stake_window"), (\.signals.activityWindow, "signals.activity_window"),
            (\.risk.volatilityWindow, "risk.volatility_window"), (\.risk.timeExit, "risk.time_exit"),
            (\.risk.circuitWindow, "risk.circuit_window"), (\.risk.circuitCooldown, "risk.circuit_cooldown"),
            (\.risk.staleAfter, "risk.stale_after"), (\.model.horizon, "model.horizon"), (\.model.trainWindow, "model.train_window"),
            (\.model.testWindow, "model.test_window"),
        ]
        for (path, name) in spans {
            for value in [Self.huge, TimeSpan(milliseconds: .max), TimeSpan(milliseconds: 0), TimeSpan(milliseconds: .min)] {
                var config = BotConfig()
                config[keyPath: path] = value
                #expect(config.problems().contains { $0.hasPrefix(name + " must be") }, "\(name) = \(value.milliseconds) ms")
            }
            var atLimit = BotConfig()
            atLimit[keyPath: path] = CarryLimit.span
            if name != "model.horizon" {
                #expect(!atLimit.problems().contains { $0.hasPrefix(name) }, "\(name) at the limit: \(atLimit.problems())")
            }
        }
    }

    @Test func everyNumberIsFiniteAndBounded() {
        let numbers: [(WritableKeyPath<BotConfig, Double>, String)] = [
            (\.weights.price, "weights.price"), (\.weights.network, "weights.network"), (\.weights.sentiment, "weights.sentiment"),
            (\.entryThreshold, "entry_threshold"), (\.signals.momentumFullScale, "signals.momentum_full_scale"),
            (\.signals.meanReversionZ, "signals.mean_reversion_z"), (\.signals.stakeDrop, "signals.stake_drop"),
            (\.signals.activityChange, "signals.activity_change"), (\.risk.highVolatilityThreshold, "risk.high_volatility_threshold"),
            (\.model.l2, "model.l2"), (\.model.minConviction, "model.min_conviction"),
        ]
        for (path, name) in numbers {
            for value in [Double.nan, .infinity, -.infinity, 1e308, -1e308, -1] {
                var config = BotConfig()
                config[keyPath: path] = value
                #expect(config.problems().contains { $0.hasPrefix(name + " must be") }, "\(name) = \(value)")
            }
        }
        var tiny = BotConfig()
        tiny.signals.meanReversionZ = .leastNonzeroMagnitude
        #expect(tiny.problems() == ["signals.mean_reversion_z must be positive, from 0.000000001 to 1000000 (got 5e-324)"])
        var leverage = BotConfig()
        leverage.risk.highVolatilityLeverage = Rate(-5)
        #expect(leverage.problems().contains("risk.high_volatility_leverage must be from 1 to 1000 (got -5)"))
    }

    /// A kernel built in code with the values the checks refuse observes every bar, says once
    /// that it will not trade, and never traps: windows, cooldowns and leverage of any size.
    @Test func aKernelWithAConfigurationWithProblemsRunsAndOpensNothing() {
        var config = BotConfig()
        config.signals.momentumWindow = TimeSpan(milliseconds: .max)
        config.signals.meanReversionWindow = TimeSpan(milliseconds: .max)
        config.signals.stakeWindow = TimeSpan(milliseconds: .min)
        config.risk.circuitWindow = TimeSpan(milliseconds: .max)
        config.risk.volatilityWindow = TimeSpan(milliseconds: .max)
        config.risk.circuitCooldown = TimeSpan(milliseconds: .max)
        config.risk.circuitMove = Rate("0.000000000001")!
        config.risk.maxLeverage = Rate(raw: .max)
        config.risk.staleAfter = TimeSpan(milliseconds: .max)
        #expect(!config.problems().isEmpty)
        var kernel = TradingKernel(config: config, barInterval: .minutes(15))
        kernel.model = AlwaysUp()
        // Before 1970, where `time − window` is furthest from zero.
        let start = Timestamp.representable.lowerBound + 86_400_000
        var journal: [KernelCommand] = []
        for index in 0..<200 {
            let price = Price(10 + index % 7)
            let bar = Candle(
                openTime: Timestamp(milliseconds: start + Int64(index) * 900_000), open: price, high: price, low: price, close: price,
                volume: Quantity(1))
            journal += kernel.handle(.bar(bar, equity: Notional(1_000_000_000), position: .zero))
        }
        #expect(!journal.contains { if case .open = $0 { true } else { false } })
        // The circuit breaker (every move trips it) halts until far past the data, saturated
        // at the end of time rather than overflowed.
        guard case .halted(let until) = kernel.state else {
            Issue.record("expected the circuit breaker's halt, got \(kernel.state)")
            return
        }
        #expect(until.milliseconds > Timestamp.representable.upperBound)
    }

    @Test func aKernelWithAConfigurationWithProblemsSaysSoOnce() {
        var config = BotConfig()
        config.risk.maxLeverage = Rate(1_000_000)
        var kernel = TradingKernel(config: config, barInterval: .minutes(15))
        kernel.model = AlwaysUp()
        var reasons: [String] = []
        for index in 0..<20 {
            let price = Price(10)
            let bar = Candle(
                openTime: Timestamp(milliseconds: ExitRuleTests.start + Int64(index) * 900_000), open: price, high: price, low: price,
                close: price, volume: Quantity(1))
            for command in kernel.handle(.bar(bar, equity: Notional(10_000), position: .zero)) {
                if case .journal(let entry) = command { reasons.append(entry.reason) }
                if case .open = command { Issue.record("opened under a configuration with problems") }
            }
        }
        #expect(reasons == ["the configuration has 1 problem (risk.max_leverage must be from 1 to 1000 (got 1000000)); no entries"])
    }

    /// The sizing in 128 bits: the most leverage on the most capital is capped at what the venue
    /// carries, and a price of one raw unit caps the quantity, instead of overflowing.
    @Test func entrySizeNeverOverflows() throws {
        var risk = BotConfig.Risk()
        risk.riskPerTrade = Rate("0.999999999999")!
        risk.stopLoss = Rate(raw: 1)
        let big = try #require(
            TradingKernel.entrySize(
                equity: CarryLimit.notional, exposure: .one, leverage: CarryLimit.leverage, risk: risk, close: Price(10),
                lotSize: Quantity("0.01")!))
        #expect(big.notional == CarryLimit.notional)
        #expect(big.quantity == Quantity(100_000_000))
        #expect(big.positionLeverage == Rate.one)

        let cheap = try #require(
            TradingKernel.entrySize(
                equity: Notional(raw: .max), exposure: Rate(raw: .max), leverage: Rate(raw: .max), risk: risk, close: Price(raw: 1),
                lotSize: Quantity("0.01")!))
        #expect(cheap.quantity == CarryLimit.quantity)

        // The spec's defaults: 10,000 USDC, 40 % at 3× is 12,000; 1 % at a 2.5 % stop is 4,000.
        let spec = try #require(
            TradingKernel.entrySize(
                equity: Notional(10_000), exposure: Rate("0.4")!, leverage: Rate(3), risk: BotConfig.Risk(), close: Price(10),
                lotSize: Quantity("0.1")!))
        #expect(spec.notional == Notional(4_000))
        #expect(spec.quantity == Quantity(400))
        #expect(spec.positionLeverage == Rate(1))

        #expect(
            TradingKernel.entrySize(
                equity: Notional(10_000), exposure: .zero, leverage: Rate(3), risk: risk, close: Price(10), lotSize: Quantity("0.1")!)
                == nil)
    }
}
