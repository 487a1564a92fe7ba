import Foundation
import PerpModel
import TestSupport
import Testing

/// Issue 15, "Errors and help": every example in `--help` and in the README runs as written.
///
/// Each example runs in a scratch folder, offline, with a private `$NMRPERP_HOME`. The input
/// files it names are made first: a file of the same name from `../shared/data` when there is
/// one, otherwise synthetic bars (at the interval its name says) or funding; a `--config` file
/// is what `bot init` writes. An example passes when it exits 0, or when it stops with one line
/// saying it needs the network (offline here) or a session that this folder has never had.
/// A usage error (exit 64), a crash or a refused input file fails the test.
@Suite(.serialized) struct HelpExamplesCLITests {
    /// Every command path (`[]`, `["hedge"]`, `["hedge", "plan"]`, …), from the SUBCOMMANDS of `--help`.
    static func commandPaths() throws -> [[String]] {
        var paths: [[String]] = []
        var stack: [[String]] = [[]]
        while let path = stack.popLast() {
            paths.append(path)
            let help = try CLI.run(path + ["--help"]).stdout
            var inSubcommands = false
            for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("SUBCOMMANDS:") {
                    inSubcommands = true
                    continue
                }
                guard inSubcommands else { continue }
                if line.isEmpty { break }
                guard line.hasPrefix("  "), !line.hasPrefix("   ") else { continue }
                let name = line.dropFirst(2).prefix { $0 != " " }
                if !name.isEmpty, name != "help" { stack.append(path + [String(name)]) }
            }
        }
        return paths.sorted { $0.joined(separator: " ") < $1.joined(separator: " ") }
    }

    /// The example command lines of a text: lines that start with `nmrperp ` (after a `$ `, or
    /// `swift run [-c release] `), with `\` continuations joined and `# comments` dropped.
    static func examples(in text: String) -> [String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { String($0) }
        var result: [String] = []
        var index = 0
        while index < lines.count {
            var line = lines[index].trimmingCharacters(in: .whitespaces)
            index += 1
            if line.hasPrefix("$ ") { line.removeFirst(2) }
            for prefix in ["swift run -c release ", "swift run "] where line.hasPrefix(prefix + "nmrperp ") {
                line.removeFirst(prefix.count)
            }
            guard line.hasPrefix("nmrperp ") else { continue }
            while line.hasSuffix("\\"), index < lines.count {
                line =
                    String(line.dropLast()).trimmingCharacters(in: .whitespaces) + " "
                    + lines[index].trimmingCharacters(in: .whitespaces)
                index += 1
            }
            if let hash = line.range(of: " #") { line = String(line[..<hash.lowerBound]) }
            result.append(line.trimmingCharacters(in: .whitespaces))
        }
        return result
    }

    /// The README's examples: command lines in its code blocks, and inline `nmrperp …` spans that
    /// are whole commands rather than synopses (no `[`, `|`, `…` or capitalised placeholder).
    static func readmeExamples() throws -> [String] {
        let readme = try String(contentsOf: PackageRoot.url().appendingPathComponent("README.md"), encoding: .utf8)
        var blocks = ""
        var inBlock = false
        for line in readme.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                inBlock.toggle()
                continue
            }
            if inBlock { blocks += line + "\n" }
        }
        var spans: [String] = []
        for (offset, part) in readme.split(separator: "`", omittingEmptySubsequences: false).enumerated() where offset % 2 == 1 {
            let span = String(part)
            let placeholder = span.split(separator: " ").contains { token in
                token.count <= 6 && token.first?.isUppercase == true && token.allSatisfy { $0.isUppercase || $0.isNumber }
                    && !["NMRUSDT"].contains(String(token))
            }
            // A span without a flag names a command (`nmrperp hedge run`); it is not an example.
            if span.contains("[") || span.contains("|") || span.contains("…") || placeholder || !span.contains(" --") { continue }
            spans.append(span)
        }
        return examples(in: blocks) + examples(in: spans.joined(separator: "\n"))
    }

    /// Splits a command line as a shell would for these examples: spaces, single and double quotes, `&&`.
    static func commands(_ line: String) -> [[String]] {
        var commands: [[String]] = [[]]
        var token = ""
        var inToken = false
        var quote: Character?
        for character in line {
            if let open = quote {
                if character == open { quote = nil } else { token.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
                inToken = true
            } else if character == " " {
                if inToken { commands[commands.count - 1].append(token) }
                token = ""
                inToken = false
            } else {
                token.append(character)
                inToken = true
            }
        }
        if inToken { commands[commands.count - 1].append(token) }
        var split: [[String]] = [[]]
        for word in commands[0] {
            if word == "&&" { split.append([]) } else { split[split.count - 1].append(word) }
        }
        return split.filter { !$0.isEmpty }
    }

    /// Makes the inputs an example names, in `folder`.
    static func prepareInputs(_ arguments: [String], in folder: String, home: String) throws {
        for (index, flag) in arguments.enumerated() where index + 1 < arguments.count {
            let value = arguments[index + 1]
            let path = value.hasPrefix("/") ? value : folder + "/" + value
            switch flag {
            case "--data", "--mark", "--funding", "--replay":
                guard !FileManager.default.fileExists(atPath: path) else { continue }
                if let shared = CLI.shared((value as NSString).lastPathComponent) {
                    try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: shared)
                } else if flag == "--funding" || value.contains("funding") {
                    try Data(Self.funding().utf8).write(to: URL(fileURLWithPath: path))
                } else {
                    try Data(Self.bars(named: value).utf8).write(to: URL(fileURLWithPath: path))
                }
            case "--config":
                guard !FileManager.default.fileExists(atPath: path) else { continue }
                let made = try CLI.run(["bot", "init", "--out", path], environment: ["NMRPERP_HOME": home])
                #expect(made.status == 0, "\(made.stderr)")
            case "--signals":
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            case "--record":
                try FileManager.default.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            default:
                continue
            }
        }
    }

    /// 150 days of bars (at most 20,000) at the interval the file name gives (`nmr_15m.csv`), a
    /// seeded random walk with a squeeze, from 2025-01-01.
    static func bars(named name: String) -> String {
        var minutes = 5
        if let match = name.firstMatch(of: /_(\d+)(m|h|d)[._]/), let count = Int(match.1) {
            minutes = count * (match.2 == "m" ? 1 : match.2 == "h" ? 60 : 1440)
        }
        let rows = min(20_000, 150 * 1440 / max(minutes, 1))
        var generator = SplitMix64(seed: 15)
        var price = 10.0
        var lines = ["open_time_ms,open,high,low,close,volume"]
        lines.reserveCapacity(rows + 1)
        for row in 0..<rows {
            let open = price
            let drift = row > rows / 2 && row < rows / 2 + rows / 40 ? 0.004 : 0
            price = max(1, price * (1 + drift + (generator.unit() - 0.5) * 0.01))
            let high = max(open, price) * (1 + generator.unit() * 0.003)
            let low = min(open, price) * (1 - generator.unit() * 0.003)
            let time = 1_735_689_600_000 + Int64(row) * Int64(minutes) * 60_000
            lines.append(String(format: "%lld,%.4f,%.4f,%.4f,%.4f,%.1f", time, open, high, low, price, 1000 + generator.unit() * 500))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// 150 days of 8-hourly funding from 2025-01-01.
    static func funding() -> String {
        var generator = SplitMix64(seed: 16)
        let rows = (0..<450).map { row in
            String(format: "%lld,%.6f", 1_735_689_600_000 + Int64(row) * 28_800_000, (generator.unit() - 0.4) * 0.0004)
        }
        return "funding_time_ms,funding_rate\n" + rows.joined(separator: "\n") + "\n"
    }

    /// What an example may end with other than exit 0: it needs the network (the run is
    /// offline), or a session or stored run this fresh folder never had.
    static let acceptedRefusals = [
        "NMRPERP_OFFLINE is set", "needs the network", "no paper session", "no live session", "no hedge session", "no journal yet",
        "has no session", "no session named", "no run named", "does not exist yet", "signer is not installed",
    ]

    static func check(_ line: String, source: String) throws {
        // The README's commands run from the repository, with `../shared` beside it: so does the
        // scratch folder, with `../shared` a link to the real one.
        if line.contains("../shared/"), SharedData.root == nil {
            print("skipped `\(line)`: ../shared/data is absent")
            return
        }
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-example-\(UUID().uuidString)").path
        let folder = parent + "/work"
        let home = folder + "/.home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: parent) }
        if let shared = SharedData.root {
            try FileManager.default.createSymbolicLink(atPath: parent + "/shared", withDestinationPath: shared.path)
        }
        for words in commands(line) {
            #expect(words.first == "nmrperp", "\(source): \(line)")
            let arguments = Array(words.dropFirst())
            try prepareInputs(arguments, in: folder, home: home)
            let server = arguments.first == "dashboard"
            let result = try CLI.run(
                arguments, environment: ["NMRPERP_HOME": home], timeout: 300, directory: folder, terminateAfter: server ? 3 : nil)
            let refusal = result.status == 1 && acceptedRefusals.contains { result.stderr.contains($0) }
            #expect(result.status == 0 || refusal, "\(source): `\(line)` exited \(result.status): \(result.stderr.prefix(600))")
            #expect(!result.stderr.contains("Fatal error"), "\(source): \(line)")
            if result.status != 0 { break }
        }
    }

    @Test func everyExampleInHelpRunsAsWritten() async throws {
        try await offPool {
            var seen = Set<String>()
            var count = 0
            for path in try Self.commandPaths() {
                let help = try CLI.run(path + ["--help"])
                #expect(help.status == 0)
                for example in Self.examples(in: help.stdout) where seen.insert(example).inserted {
                    try Self.check(example, source: "nmrperp \(path.joined(separator: " ")) --help")
                    count += 1
                }
            }
            #expect(count >= 30, "found only \(count) examples in --help")
            print("--help: \(count) examples ran")
        }
    }

    @Test func everyExampleInTheREADMERunsAsWritten() async throws {
        try await offPool {
            let examples = try Self.readmeExamples()
            #expect(examples.count >= 5, "\(examples)")
            print("README.md: \(Set(examples).count) examples: \(Set(examples).sorted().joined(separator: " ; "))")
            for example in Set(examples).sorted() { try Self.check(example, source: "README.md") }
        }
    }

    @Test func helpProseIsNotHardWrappedInsideTheParsersWrapping() async throws {
        try await offPool {
            // A paragraph wrapped by hand and again by the parser leaves a line of one or two words
            // followed by more prose; the parser alone fills every line but a paragraph's last.
            for path in try Self.commandPaths() {
                let lines = try CLI.run(path + ["--help"]).stdout.split(separator: "\n", omittingEmptySubsequences: false)
                for (index, line) in lines.enumerated() where index + 1 < lines.count {
                    let next = lines[index + 1]
                    let prose =
                        !line.hasPrefix(" ") && !next.hasPrefix(" ") && !line.isEmpty && !next.isEmpty
                        && !line.hasSuffix(":") && !line.contains("  ")
                    guard prose else { continue }
                    #expect(line.count >= 40, "nmrperp \(path.joined(separator: " ")) --help: a short line inside a paragraph: \"\(line)\"")
                }
            }
        }
    }
}

extension SplitMix64 {
    /// A uniform draw in [0, 1), for synthetic inputs.
    mutating func unit() -> Double { Double(next() >> 11) / Double(UInt64(1) << 53) }
}
