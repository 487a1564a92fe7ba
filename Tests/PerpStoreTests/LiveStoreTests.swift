import Foundation
import PerpModel
import Testing

@testable import PerpStore

@Suite struct LiveStoreTests {
    static func info(name: String = "main") -> LiveSessionInfo {
        LiveSessionInfo(
            name: name, venue: "binance-usdm", symbol: "NMRUSDT", interval: .minutes(1), configText: "risk: {}\n",
            sizeFraction: Rate("0.1")!, paperSession: nil, skippedPaperGate: true, tag: "abcd1234", created: Timestamp(milliseconds: 1_000))
    }

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("live-\(UInt64.random(in: 0...UInt64.max)).sqlite").path
    }

    @Test func inputsJournalAndStopRequestsRoundTrip() throws {
        let store = try LiveStore.inMemory()
        #expect(try store.info() == nil)
        try store.create(Self.info())
        #expect(try store.info() == Self.info())
        let stop = try store.requestStop(flatten: true, reason: "operator", at: Timestamp(milliseconds: 5))
        #expect(try store.pendingStops().map(\.id) == [stop])
        let seqs = try store.append(
            [(Timestamp(milliseconds: 10), "tick", #"{"at":10}"#), (Timestamp(milliseconds: 11), "stop", #"{"at":11}"#)],
            journal: [LiveJournalRow(time: Timestamp(milliseconds: 11), event: "execution", line: #"{"kind":"stopped"}"#)],
            handledStop: stop)
        #expect(seqs == [1, 2])
        #expect(try store.pendingStops().isEmpty)
        var kinds: [String] = []
        try store.forEachInput { kinds.append($0.kind) }
        #expect(kinds == ["tick", "stop"])
        #expect(try store.journal().map(\.event) == ["execution"])
        #expect(try store.inputCount() == 2)
    }

    @Test func aCrashedRunIsSealedByTheNextStart() throws {
        let store = try LiveStore.inMemory()
        let first = try store.startRun(pid: 100, at: Timestamp(milliseconds: 1))
        #expect(first.sealed == 0)
        let second = try store.startRun(pid: 200, at: Timestamp(milliseconds: 2))
        #expect(second.sealed == 1)
        try store.endRun(second.run, status: "stopped", at: Timestamp(milliseconds: 3))
        #expect(try store.runs().map(\.status) == ["crashed", "stopped"])
    }

    @Test func liveAndPaperFilesAreNeverConfused() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let live = try LiveStore(path: path)
        try live.create(Self.info())
        #expect(throws: StoreError.self) { _ = try PaperStore(path: path) }
        #expect(throws: StoreError.self) { _ = try JournalStore(path: path) }
        let paperPath = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: paperPath) }
        _ = try PaperStore(path: paperPath)
        #expect(throws: StoreError.self) { _ = try LiveStore(path: paperPath) }
        #expect(throws: StoreError.self) { _ = try LiveStore(existing: paperPath + ".missing") }
    }

    @Test func statusIsOneRowReplacedEachPoll() throws {
        let store = try LiveStore.inMemory()
        #expect(try store.status() == nil)
        try store.setStatus(#"{"gate":"open"}"#, at: Timestamp(milliseconds: 1))
        try store.setStatus(#"{"gate":"halted"}"#, at: Timestamp(milliseconds: 2))
        #expect(try store.status()?.json == #"{"gate":"halted"}"#)
    }
}
