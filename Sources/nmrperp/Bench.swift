import ArgumentParser
import Foundation
import PerpHedge
import PerpMarketData
import PerpModel

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print figures (run them on a release build: swift build -c release).",
        subcommands: [BenchG.self, BenchBacktest.self, BenchLive.self, BenchHedge.self, BenchDashboard.self])
}

struct BenchG: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "g",
        abstract: "Time loading a candle CSV and computing g with every start (single thread).",
        discussion: """
            Benchmarks/run-g-benchmark.sh generates ten years of 1-minute bars and runs this beside a \
            pandas/numpy computation of the same g, printing the ratio.
            """)

    @Option(help: "Candle CSV.") var data: String
    @Option(help: "Window H.") var window: String = "30d"
    @Option(help: "Timed repetitions of the g computation (best is reported).") var reps: Int = 3
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let window = try Parse.span(self.window, "--window")
        guard (1...1000).contains(reps) else { throw CLIError("--reps must be between 1 and 1000 (got \(reps))") }
        let clock = ContinuousClock()
        var series = CandleSeries()
        let load = try clock.measure { series = try Load.candles(data) }
        var best = Duration.seconds(1_000_000)
        var result: WorstCase?
        var quantileTime = Duration.zero
        for _ in 0..<reps {
            var quantiles: [Double] = []
            let elapsed = try clock.measure {
                let analysis = try WorstCase.analyse(series, window: window, step: .everyBar)
                quantiles = Quantiles.compute(analysis.values, [0.5, 0.9, 0.99])
                result = analysis
            }
            _ = quantiles
            if elapsed < best { best = elapsed }
        }
        let quantileOnly = clock.measure { _ = Quantiles.compute(result!.values, [0.5, 0.9, 0.99]) }
        quantileTime = quantileOnly
        let loadSeconds = seconds(load)
        let gSeconds = seconds(best)
        if json {
            emit(
                json: .object([
                    ("rows", .int(series.count)), ("load_seconds", .double(loadSeconds, significant: 4)),
                    ("g_seconds", .double(gSeconds, significant: 4)),
                    ("quantile_seconds", .double(seconds(quantileTime), significant: 4)), ("g", .double(result!.g, significant: 17)),
                    ("windows", .int(result!.windows)), ("full_windows", .int(result!.fullWindows)),
                    ("worst_window_start", .string(result!.worstWindowStart.iso8601)),
                ]))
            return
        }
        print(
            TextTable.pairs([
                ("rows", String(series.count)),
                ("load", "\(formatFixed(loadSeconds, 3)) s (\(formatFixed(Double(series.count) / loadSeconds / 1e6, 2)) M rows/s)"),
                (
                    "g, every start",
                    "\(formatFixed(gSeconds, 3)) s incl. p50/p90/p99 (best of \(reps)); g = \(formatFixed(result!.g, 6)) over \(result!.windows) windows"
                ),
            ]))
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
