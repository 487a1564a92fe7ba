import ArgumentParser
import Foundation
import Logging
import PerpExecution
import PerpHedge
import PerpLive
import PerpMarketData
import PerpModel
import PerpShippedData
import PerpStore
import PerpVenues

// `hedge run|status|stop|journal`: the stake hedge, running (issue 13, decision 0015).

/// A percentage or a fraction: `5%` or `0.05`.
enum Percent {
    static func parse(_ text: String, _ option: String, example: String) throws -> Rate {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var value: Rate?
        if trimmed.hasSuffix("%") {
            value = Rate(String(trimmed.dropLast()).trimmingCharacters(in: .whitespaces)).map {
                Rate(raw: $0.raw / 100)
            }
        } else {
            value = Rate(trimmed)
        }
        guard let value, value.isPositive, value < Rate.one else {
            throw CLIError(
                "\(option) must be a share between 0 and 1 or a percentage, e.g. \(option) \(example) (got \(InputLimits.excerpt(text)))")
        }
        return value
    }
}

/// The venue side of the hedge commands: Lighter (the default) or Binance USD-M.
enum HedgeVenues {
    struct Made {
        var venue: any HedgeVenue
        var name: String
        var symbol: String
        /// The venue's maintenance margin fraction, when it publishes one per market.
        var maintenance: Rate?
        /// The largest leverage the market allows (Lighter: from its minimum initial fraction).
        var maxLeverage: Int?
        /// Lighter's funding-units cross-check (issue 13): the verdict and its line.
        var checkFundingUnits: (@Sendable () async -> (LighterFundingUnits.Verdict, String)?)?
    }

    static func make(
        venue: String, testnet: Bool, market: Int, symbol: String, account: Int64?, dryRun: Bool, logger: Logger
    ) async throws -> Made {
        switch venue.lowercased() {
        case "lighter":
            let endpoints = LighterEndpoints.fromEnvironment(Environment.values, base: testnet ? .testnet : .mainnet)
            let loaded: LighterCredentials?
            do { loaded = try LighterCredentials.load(environment: Environment.values, home: Environment.home) } catch {
                throw CLIError("\(error)")
            }
            let signer: any LighterSigner
            let accountIndex: Int64
            let keyIndex: Int32
            if dryRun {
                // A dry run signs nothing: the account's public state is all it reads.
                guard let index = account ?? loaded?.accountIndex else {
                    throw CLIError(
                        "--dry-run on Lighter needs the account to read: --account INDEX, or NMRPERP_LIGHTER_ACCOUNT_INDEX with its key")
                }
                accountIndex = index
                keyIndex = loaded?.apiKeyIndex ?? 4
                signer = LighterReadOnlySigner()
            } else {
                guard let loaded else {
                    throw CLIError(
                        "no Lighter API key: set NMRPERP_LIGHTER_ACCOUNT_INDEX, NMRPERP_LIGHTER_API_KEY_INDEX and NMRPERP_LIGHTER_API_PRIVATE_KEY, or write \(Environment.home)/keys/lighter.json as \(LighterCredentials.expected) with mode 600"
                    )
                }
                if let account, account != loaded.accountIndex {
                    throw CLIError("--account \(account) is not the account of the Lighter key (\(loaded.accountIndex))")
                }
                accountIndex = loaded.accountIndex
                keyIndex = loaded.apiKeyIndex
                do {
                    signer = try LighterLibrarySigner(
                        libraryPath: LighterLibrarySigner.libraryPath(environment: Environment.values, home: Environment.home),
                        key: loaded.privateKey, accountIndex: loaded.accountIndex, apiKeyIndex: loaded.apiKeyIndex,
                        chainID: endpoints.chainID)
                } catch { throw CLIError("\(error)") }
            }
            let trader = LighterTrader(
                endpoints: endpoints, market: Int64(market), accountIndex: accountIndex, apiKeyIndex: keyIndex, signer: signer,
                transport: AsyncHTTPClientTransport.shared, clock: { SystemPaperClock().now().milliseconds }, logger: logger)
            let rules: MarketRules
            do { rules = try await trader.rules() } catch {
                throw CLIError("cannot read Lighter market \(market): \(error); nothing was sent")
            }
            let details = await trader.marketDetails
            var maxLeverage: Int?
            if let fraction = details?.minInitialFraction, fraction.isPositive {
                maxLeverage = Int(Rate.scale / fraction.raw)
            }
            let client = LighterClient(baseURL: endpoints.rest)
            return Made(
                venue: trader, name: endpoints.name, symbol: rules.symbol, maintenance: details?.maintenanceFraction,
                maxLeverage: maxLeverage,
                checkFundingUnits: { try? await client.checkFundingUnits(marketID: market, now: SystemPaperClock().now()) })
        case "binance":
            let (venue, name, _) = try LiveVenue.make(testnet: testnet, symbol: symbol.uppercased(), logger: logger)
            guard let hedgeVenue = venue as? any HedgeVenue else { throw CLIError("binance cannot run the hedge in this build") }
            return Made(venue: hedgeVenue, name: name, symbol: symbol.uppercased(), maintenance: nil, maxLeverage: nil)
        default:
            throw CLIError("--venue must be lighter or binance (got \(InputLimits.excerpt(venue)))")
        }
    }
}

/// The options `hedge run` and `pool run` share.
struct HedgeDaemonOptions: ParsableArguments {
    @Option(help: "Collateral multiple k (from `hedge plan`).") var collateralMultiple: String?
    @Option(help: "Worst-case price multiple g; k = (g − 1) + α·g·M.") var g: String?
    @Option(help: "Price history to estimate g from (CSV, Binance or Lighter JSON).") var data: String?
    @OptionGroup var windows: WindowOptions
    @OptionGroup var timeRange: HistoryRangeOptions
    @Option(help: "Safety factor α (at least 1).") var alpha = "1.1"
    @Option(help: "Maintenance margin fraction M (default: the venue's; Binance: Lighter's 0.2, the cautious side).")
    var marginFraction: String?
    @Option(help: "Full rebalance at least this often.") var rebalance = "30d"
    @Option(help: "Rebalance sooner when the stake or the price moves this much (5% or 0.05).") var drift = "5%"
    @Option(help: "Warn when the price has gone this share of the way to liquidation.") var warnAt = "0.5"
    @Flag(help: "Read and decide, print and journal what would be sent, send nothing.") var dryRun = false
    @Option(help: "Session name (its file is $NMRPERP_HOME/hedge/NAME.sqlite).") var name = "default"
    @Option(help: "POST warnings and actions as JSON to this URL (a webhook; retried, never blocking).") var notify: String?
    @Option(help: "Time between polls.") var poll = "60s"
    @Option(help: "Largest single order in NMR (the rest follows at the next rounds).") var maxOrder: String?
    @Option(help: "Venue leverage (the initial margin the venue takes; the hedge tops up to k·q·P). Default: the market's maximum.")
    var leverage: Int?
    @Option(help: "Lighter market id of NMR.") var market = 74
    @Flag(help: "The venue's testnet (NMRPERP_LIGHTER_URL / NMRPERP_BINANCE_USDM_URL still override the address).") var testnet = false
    @Option(help: "Stop after this many polls (scripts and tests; default: until Ctrl-C or `hedge stop`).") var maxPolls: Int?
    @Flag(help: "Print one JSON status per poll.") var json = false
}

struct HedgeRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Hold the stake hedge: short the staked NMR, post k·q·P on the position, rebalance, warn (spec §1).",
        discussion: """
            Reads the stake from Numerai (the sum of the --model stakes), opens or resizes a short of that many \
            NMR on the venue (Lighter market 74 by default, isolated margin), and posts collateral k·q·P on the \
            position, where k = (g − 1) + α·g·M survives the worst move g. Then it watches: every --rebalance \
            period, or when the stake or the price moves more than --drift since the last rebalance, it resizes \
            the short and deposits or withdraws collateral exactly as `hedge rebalance` computes; when the price \
            has gone --warn-at of the way to the liquidation price it warns. Every action is journalled with its \
            reason; --notify POSTs warnings and actions as JSON to a webhook.

            Crash-safe: every decision is stored before it is sent, and a restart looks up any order whose \
            answer was lost before deciding anything new. One process per --name.

            Keys: NMRPERP_LIGHTER_ACCOUNT_INDEX, NMRPERP_LIGHTER_API_KEY_INDEX and \
            NMRPERP_LIGHTER_API_PRIVATE_KEY, or $NMRPERP_HOME/keys/lighter.json (mode 600); use a dedicated API \
            key index (4…254) and an account that holds nothing else: the venue's cancel-all is account-wide. \
            The signer is Lighter's own library (scripts/install-lighter-signer.sh). --dry-run reads the account \
            and prints what it would send, with no key.

            Examples:
              nmrperp hedge run --model my_model --dry-run --account 12345
              nmrperp hedge run --model a --model b --g 3.06 --rebalance 30d --drift 5% \\
                  --notify https://hooks.example/x
              nmrperp hedge status
              nmrperp hedge stop --close
            """)

    @Option(help: "The venue: lighter (NMR market 74) or binance (NMRUSDT on USD-M).") var venue = "lighter"
    @Option(name: .customLong("model"), help: "Numerai model whose stake to hedge (repeat for several; summed).") var models: [String] = []
    @Option(help: "Numerai tournament of --model: classic, signals or crypto.") var tournament = "classic"
    @Option(help: "Binance USD-M symbol.") var symbol = "NMRUSDT"
    @Option(help: "Lighter account index (for --dry-run without a key).") var account: Int64?
    @OptionGroup var options: HedgeDaemonOptions

    func run() async throws {
        try await options.runDaemon(
            venue: venue, models: models, tournament: tournament, symbol: symbol, account: account, pool: false)
    }
}

extension HedgeDaemonOptions {
    func runDaemon(venue: String, models: [String], tournament: String, symbol: String, account: Int64?, pool: Bool) async throws {
        if pool {
            guard venue.lowercased() == "lighter" else { throw CLIError("pools are Lighter public pools: --venue lighter") }
            guard let account, account >= 1 else { throw CLIError("name the pool's account index: --account INDEX") }
        } else {
            guard !models.isEmpty else {
                throw CLIError("name the Numerai model(s) whose stake to hedge: --model NAME (repeat for several)")
            }
            _ = try StakeCommand.parse(models: models, tournament: tournament)
        }
        let rebalanceEvery = try Parse.span(rebalance, "--rebalance")
        guard rebalanceEvery >= .hours(1) else { throw CLIError("--rebalance must be at least 1h (got \(rebalance))") }
        let driftRate = try Percent.parse(drift, "--drift", example: "5%")
        let warnRate = try Percent.parse(warnAt, "--warn-at", example: "0.5")
        let pollEvery = try Parse.span(poll, "--poll")
        guard pollEvery >= .seconds(5) else {
            throw CLIError("--poll must be at least 5s: Lighter allows 60 requests a minute (got \(poll))")
        }
        if let maxPolls, maxPolls < 1 { throw CLIError("--max-polls must be at least 1 (got \(maxPolls))") }
        let sources = [collateralMultiple, g, data].compactMap { $0 }
        guard sources.count <= 1 else { throw CLIError("give at most one of --collateral-multiple, --g and --data") }
        let alphaRate: Rate = try Parse.positive(alpha, "--alpha", "a number of at least 1", example: "1.1")
        guard alphaRate >= Rate.one else { throw CLIError("--alpha is a safety factor and must be at least 1 (got \(alpha))") }
        var notifyURL: URL?
        if let notify {
            guard let url = URL(string: notify), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                url.host != nil
            else { throw CLIError("--notify must be an http or https URL (got \(InputLimits.excerpt(notify)))") }
            notifyURL = url
        }
        let path = try SessionFiles.hedge.path(name: name)
        try Environment.requireNetwork("the stake hedge")
        let logger = LiveLogging.logger(name: "hedge-\(name)")
        let made = try await HedgeVenues.make(
            venue: venue, testnet: testnet, market: market, symbol: symbol, account: account, dryRun: dryRun, logger: logger)
        let sessionLock = try SessionFiles.hedge.lock(name: name)
        defer { sessionLock.release() }
        let store = try LiveStore(path: path)
        let rules = try await made.venue.rules()

        // The settings: the stored ones for an existing session; new ones from the flags.
        let config: HedgeSessionConfig
        if let info = try store.info() {
            guard let stored = HedgeSessionConfig.parse(info.configText) else {
                throw CLIError("\(path) is not a hedge session; choose another --name")
            }
            guard stored.settings.crossMargin == pool else {
                throw CLIError(
                    "session \"\(name)\" is a \(stored.settings.crossMargin ? "pool (`pool run`)" : "stake hedge (`hedge run`)"); choose another --name"
                )
            }
            if !sources.isEmpty || marginFraction != nil {
                printError(
                    "hedge \(name): resuming with the stored k = \(stored.settings.collateralMultiple) (\(stored.collateralSource)); the k options given are checked, not applied"
                )
                let given = try await kFromOptions(maintenance: stored.settings.maintenanceFraction, alpha: alphaRate)
                if given.k != stored.settings.collateralMultiple {
                    throw CLIError(
                        "hedge session \"\(name)\" holds k = \(stored.settings.collateralMultiple) (\(stored.collateralSource)), not \(given.k); start a new session with --name to change it"
                    )
                }
            }
            config = stored
        } else {
            let maintenance: Rate
            if let marginFraction {
                maintenance = try Parse.fraction(marginFraction, "--margin-fraction", example: "0.2")
            } else {
                maintenance = made.maintenance ?? MarketSpec.lighterNMR.margin.maintenanceRate
            }
            let (k, source) = try await kFromOptions(maintenance: maintenance, alpha: alphaRate)
            let maxLeverage = made.maxLeverage ?? 3
            let chosen = leverage ?? maxLeverage
            guard (1...maxLeverage).contains(chosen) else {
                throw CLIError("--leverage must be 1…\(maxLeverage) on this market (got \(chosen))")
            }
            var largest = rules.maxMarketQuantity
            if let maxOrder {
                largest = min(largest, try Parse.positive(maxOrder, "--max-order", "a number of NMR", example: "50") as Quantity)
            }
            let created = SystemPaperClock().now()
            let settings = HedgeSettings(
                collateralMultiple: k, maintenanceFraction: maintenance, rebalanceEvery: rebalanceEvery, drift: driftRate,
                warnAt: warnRate, rules: rules, maxOrder: largest,
                sessionTag: ClientOrderID.tag(session: "hedge-" + name, createdAt: created), crossMargin: pool)
            config = HedgeSessionConfig(
                settings: settings, models: models, tournament: tournament, leverage: chosen, collateralSource: source,
                market: venue.lowercased() == "lighter" ? market : nil)
        }
        let models = config.models
        let tournament = config.tournament
        var notifier: HedgeNotifier?
        if let notifyURL {
            notifier = HedgeNotifier(url: notifyURL, transport: AsyncHTTPClientTransport.shared, name: name, logger: logger)
        }
        var runner = HedgeRunner(
            name: name, config: config, store: store, venue: made.venue, venueName: made.name,
            stakeSource: {
                guard !models.isEmpty else { throw CLIError("a pool's short follows its NAV, not a stake") }
                return try await StakeCommand.totalStake(models: models, tournament: tournament)
            },
            clock: { SystemPaperClock().now() }, logger: logger, notifier: notifier, dryRun: dryRun,
            output: { line in printError(line) })
        let replayed: Int
        do { replayed = try await runner.start(pid: getpid()) } catch {
            await runner.finish(status: "failed")
            throw CLIError("hedge \(name) did not start: \(error)")
        }
        if let check = made.checkFundingUnits, let (verdict, line) = await check() {
            if case .factor = verdict {
                printError("hedge \(name): WARNING \(line)")
                try? runner.note(.warning, line)
            } else {
                printError("hedge \(name): \(line)")
                try? runner.note(.observed, line)
            }
        }
        printError(
            replayed > 0
                ? "hedge \(name): resumed from \(path) (\(replayed) inputs replayed)"
                : "hedge \(name): new session in \(path) on \(made.name) \(config.settings.rules.symbol), k = \(config.settings.collateralMultiple) (\(config.collateralSource))\(dryRun ? ", DRY RUN" : "")"
        )
        let task = Task { [runner] in
            try await HedgeLoop.run(runner, pollEvery: pollEvery, maxPolls: maxPolls) { HedgeRunReport.show($0, json: json) }
        }
        let handlers = Interrupts.cancel(task)
        defer { handlers.remove() }
        do {
            let how = try await task.value
            printError(
                how == "stopped"
                    ? "hedge \(name): stopped by `hedge stop`; run the same command to hedge again"
                    : "hedge \(name): finished \(maxPolls ?? 0) polls; the short and its collateral stay on the venue")
        } catch {
            await runner.finish(status: task.isCancelled ? "interrupted" : "failed")
            if task.isCancelled {
                printError(
                    "hedge \(name): interrupted; everything is saved and the short stays on the venue. Run the same command to continue.")
                return
            }
            throw CLIError("hedge \(name) stopped: \(error). Nothing is lost: run the same command to continue.")
        }
    }

    /// `k` and where it came from: `--collateral-multiple`, `--g`, `--data`, or a year of
    /// Binance history (the forum's g = 3.06 when that cannot be read).
    func kFromOptions(maintenance: Rate, alpha: Rate) async throws -> (k: Rate, source: String) {
        if let text = collateralMultiple {
            let k: Rate = try Parse.positive(
                text, "--collateral-multiple", "a positive multiple", example: "2.73", atMost: CarryLimit.multiple)
            return (k, "--collateral-multiple \(k)")
        }
        let gRate: Rate
        let source: String
        if let text = self.g {
            guard let value = Rate(text), value >= Rate.one, value <= CarryLimit.multiple else {
                throw CLIError("--g is a price multiple from 1 to \(CarryLimit.multiple), e.g. --g 3.06 (got \(InputLimits.excerpt(text)))")
            }
            gRate = value
            source = "--g \(value)"
        } else if let data {
            let result = try HedgeWorstCase.analyse(try Load.candles(data, range: try timeRange.range()), windows: windows)
            gRate = result.gRate
            source = "g = \(gRate.formatted(places: 4, rule: .up)) from \(data), \(result.window) windows"
        } else {
            do {
                let range = try timeRange.range()
                let series = try range.candles(try await HedgePlan.lastYear(), source: "the last year fetched from Binance")
                let result = try HedgeWorstCase.analyse(series, windows: windows)
                gRate = result.gRate
                source = "g = \(gRate.formatted(places: 4, rule: .up)) from a year of Binance NMRUSDT 5m bars"
            } catch let fetchError {
                // Binance did not answer: the real year shipped with nmrperp, then the forum's g.
                do {
                    let shipped = try ShippedHistory.load()
                    let series = try timeRange.range().candles(shipped.series, source: "the history shipped with nmrperp")
                    let result = try HedgeWorstCase.analyse(series, windows: windows)
                    let used = HedgePlan.HistoryUsed(source: ShippedHistory.label, series: series, now: Environment.now.milliseconds)
                    gRate = result.gRate
                    source =
                        "g = \(gRate.formatted(places: 4, rule: .up)) from the history shipped with nmrperp (\(used.span), ended \(used.ageDays) days ago; Binance unavailable: \(fetchError))"
                } catch {
                    gRate = forumG
                    source = "the forum's g = 3.06 (history unavailable: \(fetchError); \(error))"
                }
            }
        }
        return (
            CollateralPlan.multiple(g: gRate, alpha: alpha, maintenanceFraction: maintenance), source + ", α \(alpha), M \(maintenance)"
        )
    }
}

/// The daemon's loop, shared by `hedge run`, `pool run` and `bench hedge` (so the benchmark
/// measures the loop users run): poll, show, then sleep in one-second slices until the next poll,
/// waking early for a `hedge stop`.
enum HedgeLoop {
    static func run(_ runner: HedgeRunner, pollEvery: TimeSpan, maxPolls: Int?, show: @Sendable (HedgeStatus) -> Void) async throws
        -> String
    {
        var runner = runner
        var polls = 0
        while maxPolls.map({ polls < $0 }) ?? true {
            try Task.checkCancellation()
            let status = try await runner.poll()
            polls += 1
            show(status)
            if runner.session.stopped != nil {
                await runner.finish(status: "stopped")
                return "stopped"
            }
            if maxPolls.map({ polls >= $0 }) ?? false { break }
            let wake = SystemPaperClock().now() + pollEvery
            while SystemPaperClock().now() < wake {
                try await Task.sleep(for: .seconds(1))
                if try !runner.store.pendingStops().isEmpty { break }
            }
        }
        await runner.finish(status: "finished")
        return "finished"
    }
}

/// The status line of `hedge run` and the table of `hedge status`.
enum HedgeRunReport {
    static func show(_ status: HedgeStatus, json: Bool) {
        if json {
            FileHandle.standardOutput.write(Data((status.json.serialized(pretty: false) + "\n").utf8))
            return
        }
        var parts = [status.state]
        parts.append("stake \(status.stake.map(\.description) ?? "?")")
        parts.append("short \(status.short)")
        if let price = status.price { parts.append("price \(price)") }
        parts.append(
            "collateral \(status.collateral.formatted(places: 2))\(status.required.map { " / \($0.formatted(places: 2, rule: .up))" } ?? "")"
        )
        if let liquidation = status.liquidationPrice { parts.append("liq \(liquidation)") }
        if status.dryRun { parts.append("DRY RUN") }
        printError(parts.joined(separator: "  "))
    }

    static func table(_ json: JSONValue) -> [(String, String)] {
        func text(_ key: String) -> String {
            guard let value = json[key], value != .null else { return "—" }
            return value.stringValue ?? value.numericText ?? value.serialized(pretty: false)
        }
        var distance = "—"
        if let value = json["liquidation_distance"]?.numericText.flatMap(Double.init) {
            distance = percent(value, places: 1) + " above the price"
        }
        var apr = "—"
        if let value = json["funding_apr"]?.numericText.flatMap(Double.init) {
            apr = percent(value, places: 2) + " a year (positive: paid)"
        }
        return [
            ("state", text("state") + (json["dry_run"] == .bool(true) ? " (dry run)" : "")),
            ("venue", "\(text("venue")) \(text("symbol"))"),
            ("stake vs short", "\(text("stake")) NMR staked, \(text("short")) NMR short"),
            ("price", text("price")),
            (
                "collateral vs required",
                "\(text("collateral")) USDC on the position, k·q·P = \(text("required_collateral")) (k = \(text("collateral_multiple")))"
            ),
            ("liquidation", "\(text("liquidation_price")) (\(distance))"),
            ("warning at", text("warning_price")),
            ("funding paid", json["funding_paid"] == .null ? "not reported by this venue" : "\(text("funding_paid")) USDC, \(apr)"),
            ("last rebalance", text("last_rebalance")),
            ("next rebalance", text("next_rebalance") + " (or sooner on drift)"),
            ("rebalances", text("rebalances")),
            ("updated", text("updated")),
        ]
    }
}

struct HedgeStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a hedge: stake vs short, collateral vs k·q·P, liquidation price and distance, funding, next rebalance.")
    @Option(help: "Session name.") var name = "default"
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let store = try SessionFiles.hedge.openExisting(name: name)
        guard try store.info() != nil else { throw CLIError("hedge session \"\(name)\" has no settings yet") }
        let running = SessionFiles.hedge.running(name: name)
        let status = try store.status()
        let statusJSON = status.flatMap { try? JSONParser.parse($0.json) }
        if json {
            var members: [(String, JSONValue)] = [("running", .bool(running != nil))]
            if case .object(let fields)? = statusJSON { members += fields }
            emit(json: .object(members))
            return
        }
        var lines = ["hedge \(name): \(running != nil ? "running" : "not running")"]
        if let statusJSON {
            lines.append(TextTable.pairs(HedgeRunReport.table(statusJSON)))
        } else {
            lines.append("  no status yet (the hedge has not polled)")
        }
        let journal = try store.journal(newest: 10)
        if !journal.isEmpty {
            lines.append("journal (newest last):")
            for row in journal {
                let line = (try? JSONParser.parse(row.line)).flatMap { json -> String? in
                    guard let kind = json["kind"]?.stringValue, let reason = json["reason"]?.stringValue else { return nil }
                    return "  \(row.time.iso8601)  \(kind)  \(reason)"
                }
                lines.append(line ?? "  " + row.line)
            }
        }
        print(lines.joined(separator: "\n"))
    }
}

struct HedgeJournalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "journal", abstract: "Print or write a hedge's journal (JSON lines).")
    @Option(help: "Session name.") var name = "default"
    @Option(help: "Write the journal to this file (JSON lines) instead of standard output.") var out: String?
    @Flag(help: "Replace output files that already exist.") var force = false
    @Flag(help: "Print one JSON object (the rows, or the file written) instead of JSON Lines.") var json = false

    func run() async throws { try SessionFiles.hedge.exportJournal(name: name, out: out, force: force, json: json) }
}

struct HedgeStopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop a hedge; with --close, buy its short back first (reduce-only).",
        discussion: """
            With the hedge running, the request is stored in its file and the running process \
            carries it out within a second or two; this command waits for it. With no process \
            running, a plain stop is recorded for it, and --close is carried out here with the \
            session's stored settings and your keys. `hedge run` with the same --name starts it again.
            """)
    @Option(help: "Session name.") var name = "default"
    @Flag(help: "Also buy the short back with reduce-only market orders.") var close = false
    @Option(help: "Why (journalled).") var reason = "operator stop"
    @Flag(help: "The venue's testnet (for a hedge that is not running).") var testnet = false
    @Option(help: "Longest wait for a running hedge to carry it out (e.g. 30s).") var wait = "30s"
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let wait = try Parse.span(self.wait, "--wait")
        let store = try SessionFiles.hedge.openExisting(name: name)
        guard let info = try store.info(), let config = HedgeSessionConfig.parse(info.configText) else {
            throw CLIError("hedge session \"\(name)\" has no settings yet")
        }
        let clock = SystemPaperClock()
        let request = try store.requestStop(flatten: close, reason: InputLimits.excerpt(reason), at: clock.now())
        if try await SessionFiles.hedge.awaitStop(request, store: store, name: name, wait: wait, waitText: self.wait) {
            announce(
                "hedge \(name): stopped by the running process\(close ? " (short bought back)" : "")", json: json,
                [("name", .string(name)), ("state", .string("stopped")), ("close", .bool(close)), ("by", .string("running process"))])
            return
        }
        guard close else {
            announce(
                "hedge \(name): stop recorded (no process is running); `hedge run --name \(name)` starts it again", json: json,
                [("name", .string(name)), ("state", .string("stopped")), ("close", .bool(false)), ("by", .string("this command"))])
            return
        }
        let logger = LiveLogging.logger(name: "hedge-\(name)")
        let venue = info.venue.hasPrefix("lighter") ? "lighter" : "binance"
        let made = try await HedgeVenues.make(
            venue: venue, testnet: info.venue.hasSuffix("testnet") || testnet, market: config.market ?? 74, symbol: info.symbol,
            account: nil, dryRun: false, logger: logger)
        let sessionLock = try SessionFiles.hedge.lock(name: name)
        defer { sessionLock.release() }
        var runner = HedgeRunner(
            name: name, config: config, store: store, venue: made.venue, venueName: made.name,
            stakeSource: { throw CLIError("the stake is not read while stopping") }, clock: { SystemPaperClock().now() }, logger: logger,
            notifier: nil, dryRun: false, output: { line in printError(line) })
        do {
            _ = try await runner.start(pid: getpid())
            _ = try await runner.poll()
            _ = try await runner.poll()
            await runner.finish(status: "stopped")
        } catch {
            await runner.finish(status: "failed")
            throw CLIError(
                "hedge \(name): the stop could not be carried out: \(error). It stays stored; the next `hedge run` carries it out first")
        }
        let short = runner.session.last?.position.magnitude ?? .zero
        announce(
            "hedge \(name): stopped\(short.isZero ? ", short bought back" : ", \(short) NMR still short (see `hedge status`)")", json: json,
            [
                ("name", .string(name)), ("state", .string("stopped")), ("close", .bool(true)), ("by", .string("this command")),
                ("short", .exact(short)),
            ])
    }
}

struct PoolStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Read a Lighter public pool and check it against our share accounting (spec §2).",
        discussion: """
            Reads the pool's account (public: no key): NAV, total shares, the operator's shares, the \
            operator fee and minimum share, the last share price; values every holder's claim as \
            ⌊shares × NAV / total⌋ (our ledger's rule) and checks that the claims never exceed the NAV, \
            that the operator holds its minimum, and that NAV ÷ shares matches the venue's share price. \
            --depositor reads depositors' accounts for their holdings. With --collateral-multiple it \
            also shows the short the pool should hold (NAV / k notional) beside the one it holds. \
            Exits with status 3 when a check fails.

              nmrperp pool status --account 281474976710600 --collateral-multiple 2.73
            """)
    @Option(help: "The pool's account index.") var account: Int64
    @Option(name: .customLong("depositor"), help: "A depositor's account index to read (repeat).") var depositors: [Int64] = []
    @Option(help: "Collateral multiple k: show the short the pool should hold, NAV / (k·P) NMR.") var collateralMultiple: String?
    @Option(help: "Lighter market id of NMR.") var market = 74
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        guard account >= 1 else { throw CLIError("--account must be a pool's account index (got \(account))") }
        guard depositors.count <= 50 else { throw CLIError("at most 50 --depositor accounts (got \(depositors.count))") }
        let k: Rate? = try collateralMultiple.map {
            try Parse.positive($0, "--collateral-multiple", "a positive multiple", example: "2.73", atMost: CarryLimit.multiple)
        }
        try Environment.requireNetwork("pool status")
        let client = LighterClient(baseURL: VenueEndpoints.fromEnvironment().lighter)
        let row = try await client.account(index: account)
        guard let pool = LighterWire.pool(row, index: account) else {
            throw CLIError("account \(account) is not a public pool (its answer has no pool_info), or its pool fields do not read")
        }
        var holdings: [(String, Int64)] = []
        for depositor in depositors {
            let depositorRow = try await client.account(index: depositor)
            let held = LighterWire.holding(depositorRow, pool: account)?.shares ?? 0
            holdings.append(("account \(depositor)", held))
        }
        // The signer's scales: the minimum operator share is out of 10,000 (lighter-live.md §6).
        let minimum = Int64(pool.minOperatorShareText).flatMap { (0...10_000).contains($0) ? Rate(basisPointsOf10000: Int($0)) : nil }
        let audit = VenuePoolAudit(
            nav: pool.nav, totalShares: pool.totalShares, operatorShares: pool.operatorShares, depositors: holdings,
            minimumOperatorShare: minimum, reportedSharePrice: pool.lastSharePrice?.price)
        var market74: (price: Price, short: Quantity, target: Quantity?)?
        if let details = try? await client.market(id: market), let scale = LighterScale(details), let price = details.referencePrice {
            let short = LighterWire.position(row, scale: scale)?.quantity.magnitude ?? .zero
            var target: Quantity?
            if let k {
                target = HedgeRunner.poolShort(
                    nav: pool.nav, price: price,
                    settings: HedgeSettings(
                        collateralMultiple: k, maintenanceFraction: details.maintenanceFraction, rebalanceEvery: .days(30), drift: .zero,
                        warnAt: Rate("0.5")!, rules: scale.rules(symbol: details.symbol), maxOrder: Quantity(1), sessionTag: "status00",
                        crossMargin: true))
            }
            market74 = (price, short, target)
        }
        if json {
            var members: [(String, JSONValue)] = [
                ("account", .int(account)), ("status", .int(pool.status)), ("nav", .exact(pool.nav)),
                ("total_shares", .int(pool.totalShares)),
                ("operator_shares", .int(pool.operatorShares)), ("operator_fraction", .exact(audit.operatorFraction)),
                ("operator_fee_raw", .string(pool.operatorFeeText)), ("min_operator_share_raw", .string(pool.minOperatorShareText)),
                ("share_price", audit.sharePrice.map { .exact($0) } ?? .null),
                ("venue_share_price", pool.lastSharePrice.map { .exact($0.price) } ?? .null),
                ("sum_of_claims", .exact(audit.sumOfClaims)), ("dust", .exact(audit.dust)),
                (
                    "holders",
                    .array(
                        audit.holders.map {
                            .object([
                                ("name", .string($0.name)), ("shares", .int($0.shares)), ("claim", .exact($0.claim)),
                                ("fraction", .exact($0.fraction)),
                            ])
                        })
                ),
                ("problems", .array(audit.problems.map { .string($0) })),
            ]
            if let market74 {
                members.append(("price", .exact(market74.price)))
                members.append(("short", .exact(market74.short)))
                members.append(("target_short", market74.target.map { .exact($0) } ?? .null))
            }
            emit(json: .object(members))
        } else {
            var rows: [(String, String)] = [
                ("pool", "account \(account), \(pool.status == 0 ? "active" : "frozen (status \(pool.status))")"),
                ("NAV", "\(pool.nav.formatted(places: 2)) USDC"),
                (
                    "shares",
                    "\(pool.totalShares) in total; share price \(audit.sharePrice.map(\.description) ?? "—") USDC (venue: \(pool.lastSharePrice.map { $0.price.description } ?? "—"))"
                ),
                (
                    "operator",
                    "\(pool.operatorShares) shares = \(audit.operatorFraction.formatted(places: 4, rule: .down)) (minimum \(pool.minOperatorShareText)/10000), fee \(pool.operatorFeeText)"
                ),
            ]
            for holder in audit.holders {
                rows.append(("  " + holder.name, "\(holder.shares) shares, claim \(holder.claim.formatted(places: 2, rule: .down)) USDC"))
            }
            rows.append(("claims", "\(audit.sumOfClaims) of \(audit.nav) USDC (dust \(audit.dust))"))
            if let market74 {
                rows.append(
                    ("short", "\(market74.short) NMR at \(market74.price)\(market74.target.map { "; NAV / k asks for \($0) NMR" } ?? "")"))
            }
            rows.append(("checks", audit.problems.isEmpty ? "consistent" : audit.problems.joined(separator: "; ")))
            print(TextTable.pairs(rows))
        }
        if !audit.problems.isEmpty { throw ExitCode(3) }
    }
}

struct PoolRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a Lighter public pool's hedge: keep its short at NAV / k notional under cross margin (spec §2).",
        discussion: """
            The pool's short follows its NAV: after deposits, withdrawals, a drift of the price and every \
            --rebalance period it is resized to NAV / (k·P) NMR. Pools cannot hold isolated positions, so \
            the whole pool account backs the short (cross margin) and no collateral is moved. Same journal, \
            --dry-run, --notify, restart safety and one process per --name as `hedge run`; `hedge status \
            --name NAME` shows it and `hedge stop --name NAME [--close]` stops it.

            Keys: an API key registered for the pool's account (NMRPERP_LIGHTER_ACCOUNT_INDEX is the pool's \
            index).

              nmrperp pool run --account 281474976710600 --g 3.06 --name pool --dry-run
            """)
    @Option(help: "The pool's account index.") var account: Int64
    @OptionGroup var options: HedgeDaemonOptions

    func run() async throws {
        try await options.runDaemon(venue: "lighter", models: [], tournament: "classic", symbol: "NMR", account: account, pool: true)
    }
}

struct PoolCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a Lighter public pool (whitelisted by Lighter): operator fee, minimum operator share, initial USDC.",
        discussion: """
            Signs `CreatePublicPool` with the operator's master account key (NMRPERP_LIGHTER_* or \
            $NMRPERP_HOME/keys/lighter.json). Lighter whitelists pool creation: the account's limits are \
            read first and nothing is signed when they say no. The fee is taken from depositors' profits \
            when they withdraw; the operator must keep the minimum share of all shares. One share is \
            0.001 USDC at creation; the venue asks for at least 1,000 USDC.

              nmrperp pool create --operator-fee 10% --min-operator-share 10% \\
                  --initial-usdc 1000 --dry-run
            """)
    @Option(help: "Share of depositors' profits the operator takes (10% or 0.1; 0 for none).") var operatorFee: String
    @Option(help: "Smallest share of all shares the operator must hold (10% or 0.1).") var minOperatorShare: String
    @Option(help: "USDC the operator puts in at creation (at least 1000).") var initialUsdc: String
    @Option(help: "Lighter market id of NMR (for the venue's details).") var market = 74
    @Flag(help: "Print the transaction's fields and send nothing.") var dryRun = false
    @Flag(help: "Lighter's testnet.") var testnet = false
    @Flag(help: "Print JSON.") var json = false

    static func share(_ text: String, _ option: String, allowZero: Bool) throws -> Rate {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let value = trimmed.hasSuffix("%") ? Rate(String(trimmed.dropLast())).map { Rate(raw: $0.raw / 100) } : Rate(trimmed)
        guard let value, !value.isNegative, value < Rate.one, allowZero || value.isPositive else {
            throw CLIError(
                "\(option) must be a share from \(allowZero ? "0" : "above 0") to below 100 %, e.g. \(option) 10% (got \(InputLimits.excerpt(text)))"
            )
        }
        return value
    }

    func run() async throws {
        let fee = try Self.share(operatorFee, "--operator-fee", allowZero: true)
        let minimum = try Self.share(minOperatorShare, "--min-operator-share", allowZero: false)
        let usdc: Notional = try Parse.positive(initialUsdc, "--initial-usdc", "USDC", example: "1000")
        guard usdc >= Notional(1000) else {
            throw CLIError(
                "--initial-usdc must be at least 1000: Lighter's minimum pool is 1,000,000 shares of 0.001 USDC (got \(initialUsdc))")
        }
        // 0.001 USDC a share: shares = USDC × 1000, whole shares only, within the signer's 32-bit int.
        let sharesRaw = Int128(usdc.raw) * 1000
        guard sharesRaw % Int128(Notional.scale) == 0, let shares = Int64(exactly: sharesRaw / Int128(Notional.scale)),
            shares <= Int64(Int32.max)
        else {
            throw CLIError(
                "--initial-usdc must be a multiple of 0.001 and at most 2147483.647 USDC (the signer takes a 32-bit share count; got \(initialUsdc))"
            )
        }
        let feeRaw = Int64(FixedMath.divide(Int128(fee.raw) * 1_000_000, Int128(Rate.scale), .down))
        let minimumRaw = Int64(FixedMath.divide(Int128(minimum.raw) * 10_000, Int128(Rate.scale), .down))
        let fields = "OperatorFee \(feeRaw) (of 1,000,000), InitialTotalShares \(shares), MinOperatorShareRate \(minimumRaw) (of 10,000)"
        if dryRun {
            announce(
                "pool create (dry run): would sign CreatePublicPool with \(fields); nothing sent", json: json,
                [
                    ("dry_run", .bool(true)), ("operator_fee_raw", .int(feeRaw)), ("initial_total_shares", .int(shares)),
                    ("min_operator_share_raw", .int(minimumRaw)),
                ])
            return
        }
        try Environment.requireNetwork("pool create")
        let logger = LiveLogging.logger(name: "pool-create")
        let made = try await HedgeVenues.make(
            venue: "lighter", testnet: testnet, market: market, symbol: "NMR", account: nil, dryRun: false, logger: logger)
        guard let trader = made.venue as? LighterTrader else { throw CLIError("pools are Lighter's") }
        switch await trader.createPublicPool(operatorFee: feeRaw, initialTotalShares: shares, minOperatorShareRate: minimumRaw) {
        case .accepted(let hash):
            announce(
                "pool creation accepted by Lighter (tx \(hash)): \(fields). The pool's account index appears under your L1 address (accountsByL1Address) once the sequencer has run it; then `nmrperp pool status --account INDEX`.",
                json: json,
                [
                    ("dry_run", .bool(false)), ("tx_hash", .string(hash)), ("operator_fee_raw", .int(feeRaw)),
                    ("initial_total_shares", .int(shares)), ("min_operator_share_raw", .int(minimumRaw)),
                ])
        case .notWhitelisted:
            throw CLIError(
                "Lighter does not let account \(trader.accountIndex) create public pools (accountLimits.can_create_public_pool is false): creating pools is whitelisted by Lighter; ask them to enable it. Nothing was signed."
            )
        case .refused(let reason):
            throw CLIError("Lighter refused the pool: \(reason). Nothing was created.")
        case .unknown(let reason):
            throw CLIError("the pool transaction's outcome is unknown (\(reason)); check your account's pools before trying again")
        }
    }
}
