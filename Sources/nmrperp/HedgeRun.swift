import ArgumentParser
import Foundation
import Logging
import PerpExecution
import PerpHedge
import PerpLive
import PerpMarketData
import PerpModel
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
              nmrperp hedge run --model a --model b --g 3.06 --rebalance 30d --drift 5% --notify https://hooks.example/x
              nmrperp hedge status
              nmrperp hedge stop --close
            """)

    @Option(help: "The venue: lighter (NMR market 74) or binance (NMRUSDT on USD-M).") var venue = "lighter"
    @Option(name: .customLong("model"), help: "Numerai model whose stake to hedge (repeat for several; summed).") var models: [String] = []
    @Option(help: "Numerai tournament of --model: classic, signals or crypto.") var tournament = "classic"
    @Option(help: "Collateral multiple k (from `hedge plan`).") var collateralMultiple: String?
    @Option(help: "Worst-case price multiple g; k = (g − 1) + α·g·M.") var g: String?
    @Option(help: "Price history to estimate g from (CSV, Binance or Lighter JSON).") var data: String?
    @OptionGroup var windows: WindowOptions
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
    @Option(help: "Binance USD-M symbol.") var symbol = "NMRUSDT"
    @Option(help: "Lighter account index (for --dry-run without a key).") var account: Int64?
    @Flag(help: "The venue's testnet (NMRPERP_LIGHTER_URL / NMRPERP_BINANCE_USDM_URL still override the address).") var testnet = false
    @Option(help: "Stop after this many polls (scripts and tests; default: until Ctrl-C or `hedge stop`).") var maxPolls: Int?
    @Flag(help: "Print one JSON status per poll.") var json = false

    func run() async throws {
        guard !models.isEmpty else { throw CLIError("name the Numerai model(s) whose stake to hedge: --model NAME (repeat for several)") }
        _ = try StakeCommand.parse(models: models, tournament: tournament)
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
        let alpha: Rate = try Parse.positive(self.alpha, "--alpha", "a number of at least 1", example: "1.1")
        guard alpha >= Rate.one else { throw CLIError("--alpha is a safety factor and must be at least 1 (got \(self.alpha))") }
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
            if !sources.isEmpty || marginFraction != nil {
                printError(
                    "hedge \(name): resuming with the stored k = \(stored.settings.collateralMultiple) (\(stored.collateralSource)); the k options given are checked, not applied"
                )
                let given = try await collateralMultiple(maintenance: stored.settings.maintenanceFraction, alpha: alpha)
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
            let (k, source) = try await collateralMultiple(maintenance: maintenance, alpha: alpha)
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
                sessionTag: ClientOrderID.tag(session: "hedge-" + name, createdAt: created))
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
            stakeSource: { try await StakeCommand.totalStake(models: models, tournament: tournament) },
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
        let maxPolls = self.maxPolls
        let json = self.json
        let task = Task { [runner] in
            var runner = runner
            var polls = 0
            while maxPolls.map({ polls < $0 }) ?? true {
                try Task.checkCancellation()
                let status = try await runner.poll()
                polls += 1
                HedgeRunReport.show(status, json: json)
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
    func collateralMultiple(maintenance: Rate, alpha: Rate) async throws -> (k: Rate, source: String) {
        if let text = collateralMultiple {
            let k: Rate = try Parse.positive(
                text, "--collateral-multiple", "a positive multiple", example: "2.73", atMost: CarryLimit.multiple)
            return (k, "--collateral-multiple \(k)")
        }
        let g: Rate
        let source: String
        if let text = self.g {
            guard let value = Rate(text), value >= Rate.one, value <= CarryLimit.multiple else {
                throw CLIError("--g is a price multiple from 1 to \(CarryLimit.multiple), e.g. --g 3.06 (got \(InputLimits.excerpt(text)))")
            }
            g = value
            source = "--g \(value)"
        } else if let data {
            let result = try HedgeWorstCase.analyse(try Load.candles(data), windows: windows)
            g = result.gRate
            source = "g = \(g.formatted(places: 4, rule: .up)) from \(data), \(result.window) windows"
        } else {
            do {
                let result = try HedgeWorstCase.analyse(try await HedgePlan.lastYear(), windows: windows)
                g = result.gRate
                source = "g = \(g.formatted(places: 4, rule: .up)) from a year of Binance NMRUSDT 5m bars"
            } catch {
                g = forumG
                source = "the forum's g = 3.06 (history unavailable: \(error))"
            }
        }
        return (CollateralPlan.multiple(g: g, alpha: alpha, maintenanceFraction: maintenance), source + ", α \(alpha), M \(maintenance)")
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
            ("stake vs short", "\(text("stake_nmr")) NMR staked, \(text("short_nmr")) NMR short"),
            ("price", text("price")),
            (
                "collateral vs required",
                "\(text("collateral_usd")) USDC on the position, k·q·P = \(text("required_collateral_usd")) (k = \(text("collateral_multiple")))"
            ),
            ("liquidation", "\(text("liquidation_price")) (\(distance))"),
            ("warning at", text("warning_price")),
            ("funding paid", json["funding_paid_usd"] == .null ? "not reported by this venue" : "\(text("funding_paid_usd")) USDC, \(apr)"),
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

    func run() async throws {
        let outputs = try OutputFiles([("--out", out)])
        let store = try SessionFiles.hedge.openExisting(name: name)
        let text = try store.journal().map { $0.line + "\n" }.joined()
        if outputs.isEmpty {
            FileHandle.standardOutput.write(Data(text.utf8))
        } else {
            try outputs.write { _ in text }
        }
    }
}

struct HedgeStopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop a hedge; with --close, buy its short back first (reduce-only).",
        discussion: """
            With the hedge running, the request is stored in its file and the running process
            carries it out within a second or two; this command waits for it. With no process
            running, a plain stop is recorded for it, and --close is carried out here with the
            session's stored settings and your keys. `hedge run` with the same --name starts it again.
            """)
    @Option(help: "Session name.") var name = "default"
    @Flag(help: "Also buy the short back with reduce-only market orders.") var close = false
    @Option(help: "Why (journalled).") var reason = "operator stop"
    @Flag(help: "The venue's testnet (for a hedge that is not running).") var testnet = false
    @Option(help: "Longest wait for a running hedge to carry it out (e.g. 30s).") var wait = "30s"

    func run() async throws {
        let wait = try Parse.span(self.wait, "--wait")
        let store = try SessionFiles.hedge.openExisting(name: name)
        guard let info = try store.info(), let config = HedgeSessionConfig.parse(info.configText) else {
            throw CLIError("hedge session \"\(name)\" has no settings yet")
        }
        let clock = SystemPaperClock()
        let request = try store.requestStop(flatten: close, reason: InputLimits.excerpt(reason), at: clock.now())
        if SessionFiles.hedge.running(name: name) != nil {
            let deadline = clock.now() + wait
            while clock.now() < deadline {
                if try !store.pendingStops().contains(where: { $0.id == request }) {
                    print("hedge \(name): stopped by the running process\(close ? " (short bought back)" : "")")
                    return
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            throw CLIError(
                "hedge \(name): the running process did not carry out the stop within \(self.wait); it is stored and is carried out at its next poll. Check `nmrperp hedge status --name \(name)`"
            )
        }
        guard close else {
            print("hedge \(name): stop recorded (no process is running); `hedge run --name \(name)` starts it again")
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
        print("hedge \(name): stopped\(short.isZero ? ", short bought back" : ", \(short) NMR still short (see `hedge status`)")")
    }
}
