import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the built `nmrperp` binary and captures what a user would see.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String

    /// The JSON object printed on standard output. Every key is checked against the README's
    /// JSON vocabulary, so each test that reads a command's JSON (with the venues' twins too)
    /// keeps it in one language.
    func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] else {
            throw CLIRunError("stdout is not a JSON object: \(stdout)")
        }
        let found = JSONVocabulary.violations(object, path: "")
        #expect(found.isEmpty, "keys outside the README's JSON vocabulary: \(found)")
        return object
    }
}

struct CLIRunError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum CLI {
    /// The `nmrperp` built next to this test bundle.
    static let binary: URL = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for directory in [beside, beside.deletingLastPathComponent()] {
            let candidate = directory.appendingPathComponent("nmrperp")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return PackageRoot.url().appendingPathComponent(".build/debug/nmrperp")
    }()

    /// Runs `nmrperp args…` offline (unless `environment` says otherwise) with a private home
    /// folder, killing it after `timeout` seconds.
    /// `directory` is its working folder; `terminateAfter` sends it SIGTERM after that many
    /// seconds (a server, stopped as an operator's Ctrl-C would).
    static func run(
        _ arguments: [String], environment: [String: String] = [:], timeout: Double = 60, directory: String? = nil,
        terminateAfter: Double? = nil
    ) throws -> CLIResult {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var env = ProcessInfo.processInfo.environment
        env["NMRPERP_OFFLINE"] = "1"
        env["NMRPERP_HOME"] = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-cli-\(UUID().uuidString)").path
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        if let terminateAfter {
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + terminateAfter) { if process.isRunning { kill(pid, SIGTERM) } }
        }
        // Read both pipes concurrently so a large output never blocks the child.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async {
            outData = out.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            throw CLIRunError("nmrperp \(arguments.joined(separator: " ")) did not finish in \(timeout) s")
        }
        process.waitUntilExit()
        return CLIResult(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs `nmrperp args…` and sends it SIGKILL after `delay` seconds if it is still running.
    /// Returns whether it was killed and everything it printed.
    static func runKilled(_ arguments: [String], environment: [String: String], after delay: Double) throws -> (
        killed: Bool, output: String
    ) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let reader = DispatchQueue(label: "campaign-output")
        nonisolated(unsafe) var data = Data()
        let done = DispatchSemaphore(value: 0)
        reader.async {
            data = output.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }
        Thread.sleep(forTimeInterval: delay)
        var killed = false
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            killed = true
        }
        process.waitUntilExit()
        _ = done.wait(timeout: .now() + 30)
        if !killed && process.terminationReason == .uncaughtSignal { killed = true }
        return (killed, String(decoding: data, as: UTF8.self))
    }

    static func shared(_ name: String) -> String? {
        guard let root = SharedData.root else { return nil }
        let path = root.appendingPathComponent("data").appendingPathComponent(name).path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Writes `text` to a fresh temporary file and returns its path.
    static func temporaryFile(_ text: String, suffix: String = ".csv") throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-\(UUID().uuidString)\(suffix)")
        try Data(text.utf8).write(to: url)
        return url.path
    }
}
