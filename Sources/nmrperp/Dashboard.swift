import ArgumentParser
import Foundation
import Logging
import PerpDashboard
import PerpLive
import PerpMarketData
import PerpModel

/// `nmrperp dashboard`: the local web dashboard over every session under `$NMRPERP_HOME`.
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Watch every paper, live and hedge session and stored backtest in a browser, live.",
        discussion: """
            Serves a page on http://127.0.0.1:8787/ (only this computer can reach it) that reads the \
            same SQLite files the sessions write: equity and drawdown, open positions and their \
            distance to liquidation, leverage and exposure against the caps, funding, the risk \
            state with the circuit breaker's countdown, the journal (filterable), the paper record \
            and the stake hedge's short against the stake. It updates itself within a second of a \
            new bar or journal row.

            The "Stop and flatten" button stores a stop request in the session's file, as \
            `nmrperp live stop --flatten` does; the session's own process carries it out. Use \
            --read-only to hide it. The JSON behind every panel is at /api/sessions and \
            /api/sessions/KIND/NAME/{equity,positions,risk,funding,journal,hedge}; Prometheus \
            metrics are at /metrics.

            Examples:
              nmrperp dashboard
              nmrperp dashboard --port 9000 --read-only
            """)

    @Option(help: "Port to listen on (1–65535; 0 picks a free one and prints it).") var port = "8787"
    @Option(help: "Address to listen on. Anything but 127.0.0.1/localhost exposes the dashboard to your network.")
    var host = "127.0.0.1"
    @Flag(help: "Hide the kill switch and refuse every state-changing request.") var readOnly = false
    @Flag(help: "Allow --host to be an address other computers can reach (every request then needs the printed token).")
    var allowRemote = false
    @Flag(help: "Print JSON lines (its address when it listens, then when it stops) instead of text.") var json = false

    func run() async throws {
        guard let port = Int(port), (0...65_535).contains(port) else {
            throw CLIError("--port must be a whole number from 0 to 65535 (got \(InputLimits.excerpt(port)))")
        }
        let local: Set<String> = ["127.0.0.1", "localhost", "::1"]
        guard !host.isEmpty, host.count <= 255, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".:-".contains($0)) })
        else {
            throw CLIError("--host must be an address such as 127.0.0.1 (got \(InputLimits.excerpt(host)))")
        }
        guard local.contains(host.lowercased()) || allowRemote else {
            throw CLIError(
                "--host \(host) would let other computers reach the dashboard and its kill switch; add --allow-remote if that is what you want (every request then needs the token it prints)"
            )
        }
        var options = DashboardOptions()
        options.host = host
        options.port = port
        options.readOnly = readOnly
        options.handleSignals = true
        var logger = Logger(label: "nmrperp.dashboard") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = Environment.values["NMRPERP_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        let clock = SystemPaperClock()
        let dashboard = Dashboard(home: Environment.home, options: options, clock: { clock.now() }, logger: logger)
        let shownHost = host.contains(":") ? "[\(host)]" : host
        let readOnly = self.readOnly
        let exposed = !local.contains(host.lowercased())
        let token = dashboard.token
        let json = self.json
        do {
            // Ctrl-C or SIGTERM: it stops accepting, closes the pages' streams and exits 0.
            try await dashboard.run { bound in
                var line = "dashboard: http://\(shownHost):\(bound)/ over \(Environment.home)\(readOnly ? " (read-only)" : "")"
                if exposed {
                    line =
                        "dashboard: http://\(shownHost):\(bound)/?token=\(token) over \(Environment.home)\(readOnly ? " (read-only)" : ""); WARNING: listening on \(host), reachable from your network"
                }
                if json {
                    let url = "http://\(shownHost):\(bound)/" + (exposed ? "?token=\(token)" : "")
                    let members: [(String, JSONValue)] = [
                        ("state", .string("listening")), ("url", .string(url)), ("host", .string(host)), ("port", .int(bound)),
                        ("home", .string(Environment.home)), ("read_only", .bool(readOnly)), ("exposed", .bool(exposed)),
                    ]
                    line = JSONValue.object(members).serialized(pretty: false)
                }
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
            let stopped = json ? JSONValue.object([("state", .string("stopped"))]).serialized(pretty: false) : "dashboard: stopped"
            FileHandle.standardOutput.write(Data((stopped + "\n").utf8))
        } catch {
            let text = "\(error)"
            if text.contains("Address already in use") || text.contains("errno: 98") {
                throw CLIError("port \(port) on \(host) is already in use (another dashboard?); choose another with --port")
            }
            if text.contains("Cannot assign requested address") || text.contains("errno: 99") {
                throw CLIError("cannot listen on \(host): it is not an address of this computer")
            }
            throw CLIError("the dashboard stopped: \(InputLimits.excerpt(text))")
        }
    }
}
