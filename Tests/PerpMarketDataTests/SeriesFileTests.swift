import Foundation
import PerpModel
import Testing

@testable import PerpMarketData

@Suite("Series files: append, merge, never a time twice")
struct SeriesFileTests {
    static func folder() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-series-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    static func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    /// 2025-01-01T00:00:00Z plus `seconds`: times as the files hold them (epoch milliseconds).
    static func t(_ seconds: Int64) -> Int64 { 1_735_689_600_000 + seconds * 1000 }

    @Test func appendCreatesSortsAndSkipsWhatTheFileHas() throws {
        let path = try Self.folder() + "/staked.csv"
        let first = try SeriesFile.append(
            [(1_735_689_603_000, "3"), (1_735_689_601_000, "1"), (1_735_689_602_000, "2"), (1_735_689_602_000, "2.5")], to: path)
        #expect(first == SeriesFile.Appended(written: 3, skipped: 1, created: true, repairedNewline: false, last: 1_735_689_603_000))
        #expect(try Self.text(path) == "time_ms,value\n1735689601000,1\n1735689602000,2\n1735689603000,3\n")
        // A second run with overlapping rows writes only the new ones.
        let second = try SeriesFile.append([(1_735_689_602_000, "9"), (1_735_689_603_000, "9"), (1_735_689_604_000, "4")], to: path)
        #expect(second.written == 1 && second.skipped == 2 && !second.created)
        #expect(try Self.text(path) == "time_ms,value\n1735689601000,1\n1735689602000,2\n1735689603000,3\n1735689604000,4\n")
        #expect(try SeriesFile.lastTime(path) == 1_735_689_604_000)
        // Nothing new: the file is untouched.
        let third = try SeriesFile.append([(1_735_689_604_000, "4")], to: path)
        #expect(third.written == 0 && third.last == 1_735_689_604_000)
        // The bot's reader takes it.
        #expect(try ValueSeriesCSV.parse(Array(try Self.text(path).utf8), source: path).map(\.value) == [1, 2, 3, 4])
    }

    @Test func mergeFillsThePastAndKeepsTheFilesOwnValues() throws {
        let path = try Self.folder() + "/sentiment.csv"
        try Data("time_ms,value\n1735689602000,0.5\n1735689604000,-0.25\n".utf8).write(to: URL(fileURLWithPath: path))
        let merged = try SeriesFile.merge(
            [(1_735_689_601_000, "0.1"), (1_735_689_602_000, "0.9"), (1_735_689_603_000, "0.3"), (1_735_689_605_000, "1")], into: path)
        #expect(merged.written == 3 && merged.skipped == 1 && merged.last == 1_735_689_605_000)
        #expect(
            try Self.text(path)
                == "time_ms,value\n1735689601000,0.1\n1735689602000,0.5\n1735689603000,0.3\n1735689604000,-0.25\n1735689605000,1\n")
        // A merge into a missing file creates it.
        let fresh = try Self.folder() + "/new.csv"
        #expect(try SeriesFile.merge([(5, "1")], into: fresh).created)
        #expect(try Self.text(fresh) == "time_ms,value\n5,1\n")
    }

    @Test func aFileWrittenByHandIsReadBackWithItsOwnValues() throws {
        let path = try Self.folder() + "/activity.csv"
        // ISO times and a missing final newline, as a person might write it.
        try Data("time,value\n2025-01-01T00:00:00Z,120\n2025-01-02T00:00:00Z,125".utf8).write(to: URL(fileURLWithPath: path))
        try SeriesFile.merge([(1_735_603_200_000, "110")], into: path)
        #expect(try Self.text(path) == "time_ms,value\n1735603200000,110\n1735689600000,120\n1735776000000,125\n")
        try SeriesFile.append([(1_735_862_400_000, "130")], to: path)
        #expect(try Self.text(path).hasSuffix("1735776000000,125\n1735862400000,130\n"))
    }

    @Test(arguments: [
        ("a,b,c\n1,2,3\n", ":1:"), ("time_ms,value\n1000,5\nnot a row\n", ":3:"), ("time_ms,value\n1000,5\n\u{0}\u{0}\u{0}\n", "binary"),
    ])
    func aForeignFileIsRefusedAndUntouched(content: String, expected: String) throws {
        let path = try Self.folder() + "/staked.csv"
        try Data(content.utf8).write(to: URL(fileURLWithPath: path))
        for write in [{ _ = try SeriesFile.append([(9000, "1")], to: path) }, { _ = try SeriesFile.merge([(9000, "1")], into: path) }] {
            let error = try #require(throws: SeriesFile.Failure.self) { try write() }
            #expect(error.description.contains("staked.csv") && error.description.contains(expected), "\(error)")
        }
        #expect(try Self.text(path) == content)
    }

    @Test func valuesThatAreNotPlainNumbersAreRefused() throws {
        let path = try Self.folder() + "/x.csv"
        for value in ["1e5", "nan", "1,5", "", "-", "0x10", "1.2.3", String(repeating: "9", count: 50)] {
            #expect(throws: SeriesFile.Failure.self, "\(value)") { try SeriesFile.append([(1, value)], to: path) }
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(throws: SeriesFile.Failure.self) { try SeriesFile.append([(1, "1")], to: "/nonexistent-folder/x.csv") }
    }

    @Test(arguments: [
        (0.125, "0.125"), (-0.5, "-0.5"), (1234567.0, "1234567"), (1e-9, "0"), (-1e-9, "0"), (0.1 + 0.2, "0.3"),
    ])
    func valuesAreWrittenAsPlainDecimals(value: Double, expected: String) {
        #expect(SeriesFile.format(value) == expected)
    }

    @Test func valuesWithoutAPlainFormHaveNoTextAndNeverTrap() {
        #expect(SeriesFile.format(.nan) == nil && SeriesFile.format(.infinity) == nil && SeriesFile.format(1e300) == nil)
        #expect(SeriesFile.format(1e14, places: 9) == nil && SeriesFile.format(-1e14, places: 9) == nil)
        #expect(SeriesFile.format(1e9, places: 9) == "1000000000")
    }

    @Test func aMergeRewritesOtherSpellingsOfANumberAndRefusesWhatItCannotWriteBack() throws {
        let path = try Self.folder() + "/staked.csv"
        try Data("time_ms,value\n\(Self.t(2)),1e3\n".utf8).write(to: URL(fileURLWithPath: path))
        try SeriesFile.merge([(Self.t(1), "5")], into: path)
        #expect(try Self.text(path) == "time_ms,value\n\(Self.t(1)),5\n\(Self.t(2)),1000\n")
        let tiny = "time_ms,value\n\(Self.t(2)),1e-12\n"
        try Data(tiny.utf8).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: SeriesFile.Failure.self) { try SeriesFile.merge([(Self.t(1), "5")], into: path) }
        #expect(error.description.contains("no plain decimal form"), "\(error)")
        #expect(try Self.text(path) == tiny)
    }

    @Test func concurrentAppendsAndMergesNeverLoseOrDuplicate() throws {
        let path = try Self.folder() + "/staked.csv"
        let writers = 8
        DispatchQueue.concurrentPerform(iterations: writers) { writer in
            for round in 0..<25 {
                let time = Self.t(Int64(round * writers + writer + 1))
                if writer % 2 == 0 {
                    _ = try? SeriesFile.merge([(time, String(writer))], into: path)
                } else {
                    _ = try? SeriesFile.append([(time, String(writer))], to: path)
                }
            }
        }
        let points = try ValueSeriesCSV.parse(Array(try Self.text(path).utf8), source: path)
        let times = points.map(\.time)
        #expect(times == times.sorted() && Set(times).count == times.count, "sorted, each time once")
        // Every merge lands (a merge inserts anywhere); appends land unless a later time was already written.
        var merged: [Int64] = []
        for writer in stride(from: 0, to: writers, by: 2) {
            for round in 0..<25 { merged.append(Self.t(Int64(round * writers + writer + 1))) }
        }
        #expect(Set(merged).isSubset(of: Set(times)))
    }
}
