import Foundation
import Testing

/// `nmrperp backtest` says plainly how much of the price history its funding file covers
/// (issue 10, point 7a): on the terminal, in `--json` and in the HTML report.
@Suite struct BacktestFundingCoverageCLITests {
    /// Three days of hourly bars from 2024-01-01T00:00Z, flat at 10.
    static func prices() throws -> String {
        var csv = "open_time_ms,open,high,low,close,volume\n"
        for hour in 0..<72 { csv += "\(Int64(1_704_067_200_000) + Int64(hour) * 3_600_000),10,10.1,9.9,10,100\n" }
        return try CLI.temporaryFile(csv)
    }

    /// 8-hourly settlements at the given hours after 2024-01-01T00:00Z.
    static func funding(hours: [Int]) throws -> String {
        var csv = "funding_time_ms,funding_rate,interval_hours\n"
        for hour in hours { csv += "\(Int64(1_704_067_200_000) + Int64(hour) * 3_600_000),0.0001,8\n" }
        return try CLI.temporaryFile(csv)
    }

    static func run(_ extra: [String], json: Bool) throws -> CLIResult {
        try CLI.run(["backtest", "--data", try prices(), "--strategy", "hold-short", "--leverage", "1"] + extra + (json ? ["--json"] : []))
    }

    @Test func noFundingFileIsSaid() throws {
        let table = try Self.run([], json: false)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("note: no --funding file: funding is not included"), "\(table.stdout)")
        let json = try Self.run([], json: true).json()
        let coverage = json["funding_coverage"] as? [String: Any] ?? [:]
        #expect(coverage["status"] as? String == "no_file")
        #expect((json["notes"] as? [String])?.first?.contains("no --funding file") == true)
    }

    @Test func partialCoverageSaysWhichSpan() throws {
        // Settlements of day 1 only (08:00, 16:00, 24:00; the first covers 00:00–08:00): the
        // 47 hours from 2024-01-02T00:00Z to the last bar's open (71:00) have none.
        let file = try Self.funding(hours: [8, 16, 24])
        let table = try Self.run(["--funding", file], json: false)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("funding covers only 2024-01-01T00:00:00Z to 2024-01-02T00:00:00Z"), "\(table.stdout)")
        #expect(table.stdout.contains("at the end have no funding"), "\(table.stdout)")
        let json = try Self.run(["--funding", file], json: true).json()
        let coverage = json["funding_coverage"] as? [String: Any] ?? [:]
        #expect(coverage["status"] as? String == "partial")
        #expect(coverage["settlements"] as? Int == 3)
        #expect(coverage["covered_end"] as? String == "2024-01-02T00:00:00Z")
        #expect(coverage["missing_end_hours"] as? Double == 47)
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-\(UUID().uuidString).html").path
        let written = try Self.run(["--funding", file, "--report", report], json: false)
        #expect(written.status == 0, "\(written.stderr)")
        let html = try String(contentsOfFile: report, encoding: .utf8)
        #expect(html.contains("funding covers only"), "the report carries the coverage note")
    }

    @Test func aFileOutsideThePriceHistoryPaysNothingAndSaysSo() throws {
        let file = try Self.funding(hours: [-48, -40, -32])
        let table = try Self.run(["--funding", file], json: false)
        #expect(table.stdout.contains("has no settlement between the first and last bar"), "\(table.stdout)")
        let json = try Self.run(["--funding", file], json: true).json()
        #expect((json["funding_coverage"] as? [String: Any])?["status"] as? String == "none")
    }

    @Test func fullCoverageIsQuiet() throws {
        // Every 8 hours from 08:00 on day 1 to 64:00 (the last bar opens at 71:00; the next, 72:00, is after it).
        let file = try Self.funding(hours: Array(stride(from: 8, through: 64, by: 8)))
        let table = try Self.run(["--funding", file], json: false)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(!table.stdout.contains("note: "), "\(table.stdout)")
        let json = try Self.run(["--funding", file], json: true).json()
        let coverage = json["funding_coverage"] as? [String: Any] ?? [:]
        #expect(coverage["status"] as? String == "full")
        #expect(coverage["settlements"] as? Int == 8)
        #expect((json["notes"] as? [String])?.isEmpty == true)
    }
}
