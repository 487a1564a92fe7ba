import Foundation
import PerpConfig
import PerpEngine
import PerpModel
import Testing

/// A library user (the live runtime, the dashboard) loads the bot's configuration through
/// `PerpConfig` alone, with the same messages the CLI prints.
@Suite struct ConfigLoadingTests {
    /// A fresh folder for one test, removed when it ends.
    func withFolder(_ body: (URL) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try body(folder)
    }

    @Test func loadsAValidFile() throws {
        try withFolder { folder in
            let path = folder.appendingPathComponent("bot.yaml").path
            try "risk:\n  stop_loss: 0.02\n  max_leverage: 2\n".write(toFile: path, atomically: true, encoding: .utf8)
            let config = try BotConfigFile.load(path: path)
            #expect(config.risk.stopLoss == Rate("0.02"))
            #expect(config.risk.maxLeverage == Rate(2))
            var expected = BotConfig()
            expected.risk.stopLoss = Rate("0.02")!
            expected.risk.maxLeverage = Rate(2)
            #expect(config == expected)
        }
    }

    @Test func theDefaultFileLoadsAsTheDefaults() throws {
        try withFolder { folder in
            let path = folder.appendingPathComponent("bot.yaml").path
            try BotConfigFile.defaultYAML().write(toFile: path, atomically: true, encoding: .utf8)
            #expect(try BotConfigFile.load(path: path) == BotConfig())
            #expect(BotConfigFile.rows(BotConfig()).allSatisfy { $0.value == $0.defaultValue })
        }
    }

    @Test func aFileWithProblemsListsThemAll() throws {
        try withFolder { folder in
            let path = folder.appendingPathComponent("bot.yaml").path
            let text =
                "risk:\n  stop_loss: 2.5%\n  stop_los: 0.02\n  max_leverage: 0\nsignals:\n  momentum_window: 6\nwhat: 1\nrisk_per_trade: 1\n"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let (_, problems) = try BotConfigFile.read(path: path)
            #expect(problems.count >= 5)
            #expect(problems.contains { $0.key == "risk.stop_loss" && $0.line == 2 })
            #expect(problems.contains { $0.key == "risk.stop_los" && $0.message.contains("did you mean stop_loss") })
            do throws(BotConfigError) {
                _ = try BotConfigFile.load(path: path)
                Issue.record("a file with problems loaded")
            } catch {
                #expect(error.kind == .problems)
                #expect(error.problems == problems)
                let lines = error.description.split(separator: "\n")
                #expect(lines.first == "\(path): \(problems.count) problems:")
                // The first four, then the pointer to `bot check`.
                #expect(lines.count == 6)
                #expect(lines.last?.contains("nmrperp bot check --config \(path)") == true)
            }
            // `bot check` lists every one.
            let all = BotConfigFile.error(path: path, problems, shown: nil)
            #expect(all.description.split(separator: "\n").count == problems.count + 1)
        }
    }

    @Test func aMissingFileSaysHowToMakeOne() throws {
        try withFolder { folder in
            let path = folder.appendingPathComponent("absent.yaml").path
            #expect(throws: BotConfigError.self) { try BotConfigFile.load(path: path) }
            do throws(BotConfigError) {
                _ = try BotConfigFile.load(path: path)
            } catch {
                #expect(error.kind == .missing)
                #expect(error.description == "\(path): no such file; create one with `nmrperp bot init --out \(path)`")
            }
        }
    }

    @Test func notYAMLAndUnreadableAreTheirOwnKinds() throws {
        try withFolder { folder in
            let broken = folder.appendingPathComponent("broken.yaml").path
            try "risk:\n  stop_loss: [0.02\n".write(toFile: broken, atomically: true, encoding: .utf8)
            do throws(BotConfigError) {
                _ = try BotConfigFile.load(path: broken)
                Issue.record("broken YAML loaded")
            } catch {
                #expect(error.kind == .notYAML)
                #expect(error.description.hasPrefix("\(broken): not valid YAML"))
                #expect(!error.description.contains("\n"))
            }
            // A folder is not a file.
            do throws(BotConfigError) {
                _ = try BotConfigFile.load(path: folder.path)
                Issue.record("a folder loaded")
            } catch {
                #expect(error.kind == .unreadable)
            }
            let binary = folder.appendingPathComponent("binary.yaml").path
            try Data([0x72, 0x00, 0x73]).write(to: URL(fileURLWithPath: binary))
            do throws(BotConfigError) {
                _ = try BotConfigFile.load(path: binary)
                Issue.record("a file with a NUL byte loaded")
            } catch {
                #expect(error.kind == .unreadable)
            }
        }
    }

    @Test func parsesTextWithoutAFile() throws {
        let (config, problems) = try BotConfigFile.parse(yaml: "min_agreeing_signals: 4\n", file: "(stored)")
        #expect(problems.isEmpty)
        #expect(config.minAgreeingSignals == 4)
        let json = BotConfigFile.json(config)
        #expect(json.serialized().contains("\"min_agreeing_signals\": 4"))
    }
}
