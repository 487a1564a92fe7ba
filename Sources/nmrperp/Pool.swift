import ArgumentParser
import PerpHedge
import PerpMarketData
import PerpModel
import PerpSimulation

struct PoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool",
        abstract: "Run the stake hedge as a shared pool: exact share accounting, operator fee, simulation over history.",
        subcommands: [PoolSimulate.self, PoolStatusCommand.self, PoolRunCommand.self, PoolCreateCommand.self])
}

struct PoolSimulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate a pool that depositors enter and leave at random over a price history, checking every share invariant.",
        discussion: """
            The model (spec §2). The pool is one cross-margin account holding USDC and an NMR short of \
            notional NAV / k (k = --collateral-multiple, 2.7332 for g = 3.06, α = 1.1, M = 0.2), where \
            NAV = collateral + the short's unrealised PnL. The short is resized to NAV / k (whole lots, \
            rounded down) after every deposit and withdrawal and every --rebalance period. Funding is \
            paid at each settlement (position × mark × rate; a positive rate is paid by longs, so the \
            short receives it). When a bar's high reaches the short's liquidation price \
            (collateral + q·E) / (q·(1 + M)), the short is closed there (at the open when the bar opens \
            past it), what is left follows --liquidation-rule (Lighter's by default: the venue keeps it), \
            a loss beyond the collateral is the venue's insurance fund's (NAV never goes below zero), \
            and the hedge is restored at the bar's close. Trades and liquidations pay no fee.

            Shares. The operator seeds the pool with --operator-deposit at one share per USDC. A deposit \
            mints ⌊amount × shares / NAV⌋ shares; a withdrawal pays ⌊shares × NAV / total shares⌋; both \
            round against the one who acts, so rounding dust stays with the holders who stay. The \
            operator fee (--fee) is charged at withdrawal on profit only (value above the USDC paid in \
            for those shares) and paid in shares moved to the operator. The operator keeps at least \
            --min-operator-share of all shares: deposits may dilute it (the operator then tops up), but \
            it may not withdraw below the minimum.

            Requests. --events deposits or withdrawals at random times from --seed, by --depositors \
            depositors (d01, d02, ...): a depositor who holds shares withdraws with probability \
            --withdraw-probability (all, some shares, or some USDC), otherwise deposits a uniform amount \
            between --min-deposit and --max-deposit. The same seed gives the same output.

            Checks. After every event and at every bar's close: sum of claims ≤ NAV < sum of claims + \
            holders × 0.00000001; across every deposit and withdrawal, no other holder's claim falls or \
            rises by more than rounding dust, and the actor gets its exact share. Violations are listed \
            (there should be none).

            Example:
              nmrperp pool simulate --data binance_spot_NMRUSDT_5m_2022-08_2023-09.csv \\
                  --seed 7 --events 200
            """)

    @Option(help: "Price history (CSV, Binance or Lighter JSON); opens, highs and closes are used.") var data: String
    @Option(help: "Funding history (CSV, Binance fundingRate or Lighter fundings JSON).") var funding: String?
    @Option(help: "Seed of the random deposits and withdrawals (a whole number).") var seed: String
    @Option(help: "Number of depositors besides the operator.") var depositors: Int = 10
    @Option(help: "Number of random deposit or withdrawal requests.") var events: Int = 50
    @Option(help: "Collateral multiple k: the short's notional is NAV / k.") var collateralMultiple: String = "2.7332"
    @Option(help: "Maintenance margin fraction M of the venue (Lighter NMR: 0.2).") var marginFraction: String = "0.2"
    @Option(help: "Rebalancing period (30d, 7d, 12h).") var rebalance: String = "30d"
    @Option(help: "Operator fee: fraction of a withdrawal's profit.") var fee: String = "0.1"
    @Option(help: "Least fraction of all shares the operator keeps.") var minOperatorShare: String = "0.05"
    @Option(help: "The operator's seed deposit (USDC).") var operatorDeposit: String = "1000"
    @Option(help: "Smallest random deposit (USDC).") var minDeposit: String = "100"
    @Option(help: "Largest random deposit (USDC).") var maxDeposit: String = "10000"
    @Option(help: "Chance that a request by a holder is a withdrawal.") var withdrawProbability: String = "0.4"
    @Flag(help: "Do not let the operator top up after deposits dilute it below its minimum share.") var noTopUp = false
    @OptionGroup var timeRange: HistoryRangeOptions
    @Option(help: ArgumentHelp(HedgeOptions.liquidationRuleHelp)) var liquidationRule: String = "lighter"
    @Flag(help: "Print JSON.") var json = false

    func configuration() throws -> PoolSimulationConfig {
        guard let seed = UInt64(self.seed) else {
            throw CLIError("--seed must be a whole number between 0 and 18446744073709551615, e.g. --seed 7 (got \"\(self.seed)\")")
        }
        guard (1...10_000).contains(depositors) else { throw CLIError("--depositors must be between 1 and 10000 (got \(depositors))") }
        guard (0...1_000_000).contains(events) else { throw CLIError("--events must be between 0 and 1000000 (got \(events))") }
        var config = PoolSimulationConfig(seed: seed)
        config.depositors = depositors
        config.events = events
        config.collateralMultiple = try Parse.positive(collateralMultiple, "--collateral-multiple", "a positive number", example: "2.7332")
        config.maintenanceFraction = try Parse.fraction(marginFraction, "--margin-fraction", example: "0.2")
        guard config.collateralMultiple > config.maintenanceFraction else {
            throw CLIError(
                "--collateral-multiple must exceed --margin-fraction (got \(collateralMultiple) and \(marginFraction)): a short of NAV / k would be liquidated at once"
            )
        }
        config.rebalanceEvery = try Parse.span(rebalance, "--rebalance")
        config.feeRate = try PoolSimulate.unitFraction(fee, "--fee", example: "0.1")
        config.minimumOperatorShare = try PoolSimulate.unitFraction(minOperatorShare, "--min-operator-share", example: "0.05")
        config.operatorDeposit = try Parse.positive(operatorDeposit, "--operator-deposit", "a USDC amount", example: "1000")
        config.minDeposit = try Parse.positive(minDeposit, "--min-deposit", "a USDC amount", example: "100")
        config.maxDeposit = try Parse.positive(maxDeposit, "--max-deposit", "a USDC amount", example: "10000")
        guard config.minDeposit.raw >= Notional("0.01")!.raw else {
            throw CLIError("--min-deposit must be at least 0.01 USDC (got \(minDeposit))")
        }
        guard config.minDeposit <= config.maxDeposit else {
            throw CLIError("--min-deposit (\(minDeposit)) cannot exceed --max-deposit (\(maxDeposit))")
        }
        guard let probability = Rate(withdrawProbability), !probability.isNegative, probability <= Rate.one else {
            throw CLIError(
                "--withdraw-probability must be a fraction between 0 and 1, e.g. --withdraw-probability 0.4 (got \"\(withdrawProbability)\")"
            )
        }
        config.withdrawalProbability = probability
        config.liquidationRule = try Parse.liquidationRule(liquidationRule)
        config.operatorTopUp = !noTopUp
        return config
    }

    /// A fraction in `[0, 1)`.
    static func unitFraction(_ text: String, _ option: String, example: String) throws -> Rate {
        guard let value = Rate(text) else { throw CLIError("\(option) must be a fraction such as \(example) (got \"\(text)\")") }
        guard !value.isNegative, value < Rate.one else { throw CLIError("\(option) must be at least 0 and below 1 (got \(text))") }
        return value
    }

    func run() async throws {
        let config = try configuration()
        let range = try timeRange.range()
        let candles = try Load.candles(data, range: range)
        guard candles.count >= 2 else { throw CLIError("\(data): the pool simulation needs at least two bars (got \(candles.count))") }
        let rates = try funding.map { try Load.funding($0, defaultInterval: .hours(8), range: range) } ?? []
        let result: PoolSimulationResult
        do { result = try PoolSimulation(config: config).run(candles, funding: rates) } catch { throw CLIError(error.description) }
        var notes: [String] = []
        if funding != nil && result.fundingSettlements == 0 {
            notes.append(
                "no funding settlement in \(funding!) falls within the price data (\(result.firstTime.isoDate) to \(result.lastTime.isoDate))"
            )
        }
        if funding == nil { notes.append("no --funding file: funding is not applied") }
        if json {
            emit(json: PoolSimulate.json(result, config: config, notes: notes))
        } else {
            print(PoolSimulate.table(result, config: config, notes: notes))
        }
    }

    static func json(_ result: PoolSimulationResult, config: PoolSimulationConfig, notes: [String]) -> JSONValue {
        let depositorCount = result.holders.filter { !$0.isOperator }.count
        return .object([
            ("seed", .string(String(config.seed))), ("bars", .int(result.bars)), ("start", .string(result.firstTime.iso8601)),
            ("end", .string(result.lastTime.iso8601)), ("collateral_multiple", .exact(config.collateralMultiple)),
            ("margin_fraction", .exact(config.maintenanceFraction)), ("rebalance_period", .string(config.rebalanceEvery.description)),
            ("operator_fee", .exact(config.feeRate)), ("min_operator_share", .exact(config.minimumOperatorShare)),
            ("final_price", .exact(result.finalPrice)), ("final_short", .exact(result.finalShort)),
            ("final_nav", .exact(result.finalNAV)),
            ("total_shares", .exact(result.totalShares)), ("depositors", .int(depositorCount)),
            ("events", .int(result.depositEvents + result.withdrawalEvents + result.refusedEvents)),
            ("deposits", .int(result.depositEvents)),
            ("withdrawals", .int(result.withdrawalEvents)), ("refused", .int(result.refusedEvents)),
            ("operator_deposits", .int(result.events.filter { $0.kind == .operatorDeposit }.count)),
            ("rebalances", .int(result.rebalances)),
            ("liquidations", .int(result.liquidations)), ("insurance_shortfall", .exact(result.insuranceShortfall)),
            ("liquidation_rule", .string(result.liquidationRule.name)), ("margin_forfeited", .exact(result.marginForfeited)),
            ("funding_paid", .exact(Notional(raw: 0 &- result.fundingReceived.raw))),
            ("funding_settlements", .int(result.fundingSettlements)),
            ("operator_fees", .exact(result.operatorFeesEarned)), ("max_invariant_error", .exact(result.maxInvariantError)),
            ("invariant_checks", .int(result.invariantChecks)), ("invariant_violations", .int(result.violations.count)),
            (
                "violations",
                .array(
                    result.violations.map { violation in
                        .object([
                            ("time", .string(violation.time.iso8601)), ("kind", .string(violation.kind.rawValue)),
                            ("depositor", violation.depositor.map { .string($0.value) } ?? .null), ("detail", .string(violation.detail)),
                        ])
                    })
            ),
            (
                "depositor_pnl",
                .array(
                    result.holders.map { holder in
                        .object([
                            ("depositor", .string(holder.depositor.value)), ("operator", .bool(holder.isOperator)),
                            ("deposited", .exact(holder.deposited)),
                            ("withdrawn", .exact(holder.withdrawn)), ("final_shares", .exact(holder.finalShares)),
                            ("final_claim", .exact(holder.finalClaim)),
                            ("operator_fees", .exact(holder.feesPaid)), ("pnl", .exact(holder.pnl)),
                        ])
                    })
            ),
            (
                "event_log",
                .array(
                    result.events.map { event in
                        .object([
                            ("time", .string(event.time.iso8601)), ("kind", .string(event.kind.rawValue)),
                            ("depositor", event.depositor.map { .string($0.value) } ?? .null), ("amount", .exact(event.amount)),
                            ("shares", .exact(event.shares)), ("operator_fees", .exact(event.fee)), ("price", .exact(event.price)),
                            ("nav_after", .exact(event.navAfter)), ("note", event.note.isEmpty ? .null : .string(event.note)),
                        ])
                    })
            ),
            ("notes", .array(notes.map { .string($0) })),
        ])
    }

    static func table(_ result: PoolSimulationResult, config: PoolSimulationConfig, notes: [String]) -> String {
        func money(_ value: Notional) -> String { value.money }
        let operatorDeposits = result.events.filter { $0.kind == .operatorDeposit }.count
        let invariants =
            result.violations.isEmpty
            ? "all hold: \(result.invariantChecks) audits, 0 violations; largest rounding dust \(result.maxInvariantError) USDC"
            : "\(result.violations.count) VIOLATIONS in \(result.invariantChecks) audits (listed below); largest error \(result.maxInvariantError) USDC"
        var text = TextTable.pairs([
            ("data", "\(result.bars) bars, \(result.firstTime.iso8601) to \(result.lastTime.iso8601)"),
            (
                "model",
                "short NAV / k, k = \(config.collateralMultiple), M = \(config.maintenanceFraction), cross margin, rebalanced every \(config.rebalanceEvery) and after each event"
            ),
            (
                "shares",
                "fee \(percent(config.feeRate.doubleValue, places: 1)) of profit, operator keeps ≥ \(percent(config.minimumOperatorShare.doubleValue, places: 1))"
            ),
            ("seed", "\(config.seed): \(config.events) requests by \(config.depositors) depositors"),
            ("final price", "$\(result.finalPrice)  (short \(result.finalShort) NMR)"),
            ("final NAV", "$\(money(result.finalNAV))  (\(result.totalShares) shares)"),
            (
                "events",
                "\(result.depositEvents) deposits, \(result.withdrawalEvents) withdrawals, \(result.refusedEvents) refused, \(operatorDeposits) operator deposits"
            ),
            ("rebalances", String(result.rebalances)),
            (
                "liquidations",
                "\(result.liquidations) (rule \(result.liquidationRule.name)"
                    + (result.marginForfeited.isZero ? "" : "; margin forfeited $\(money(result.marginForfeited))")
                    + (result.insuranceShortfall.isZero ? "" : "; insurance fund covered $\(money(result.insuranceShortfall))") + ")"
            ),
            (
                "funding",
                result.fundingReceived.isNegative
                    ? "$\(money(-result.fundingReceived)) paid by the short over \(result.fundingSettlements) settlements"
                    : "$\(money(result.fundingReceived)) received by the short over \(result.fundingSettlements) settlements"
            ),
            ("operator fees", "$\(money(result.operatorFeesEarned))"),
            ("invariants", invariants),
        ])
        text += "\n\ndepositor P&L (withdrawn + final claim − deposited)\n"
        text += TextTable.grid(
            ["depositor", "deposited", "withdrawn", "final claim", "fees paid", "P&L"],
            result.holders.map { holder in
                [
                    holder.isOperator && holder.depositor.value != "operator" ? "\(holder.depositor) (operator)" : holder.depositor.value,
                    money(holder.deposited), money(holder.withdrawn),
                    money(holder.finalClaim), money(holder.feesPaid), money(holder.pnl),
                ]
            })
        text += "\n\nevents\n"
        text += TextTable.grid(
            ["time", "kind", "depositor", "amount", "shares", "fee", "price", "NAV after"],
            result.events.map { event in
                [
                    event.time.iso8601, event.kind.rawValue, event.depositor?.value ?? "-", money(event.amount),
                    event.shares.formatted(places: 4),
                    money(event.fee), event.price.formatted(places: 4), money(event.navAfter),
                ]
            })
        let refusals = result.events.filter { $0.kind == .refused }
        for event in refusals { text += "\nrefused \(event.time.iso8601) \(event.depositor?.value ?? "-"): \(event.note)" }
        for violation in result.violations { text += "\nVIOLATION \(violation)" }
        for note in notes { text += "\nnote: \(note)" }
        return text
    }
}
