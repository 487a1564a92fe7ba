import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How one process ended.
enum Outcome: Equatable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)
    case timedOut
    case spawnFailed(Int32)

    var description: String {
        switch self {
        case .exited(let code): "exit \(code)"
        case .signalled(let signal): "signal \(signal)"
        case .timedOut: "timeout"
        case .spawnFailed(let error): "spawn failed (errno \(error))"
        }
    }
}

struct RunResult {
    var outcome: Outcome
    var stdout: String
    var stderr: String
    var seconds: Double
}

/// Runs a program in its own process group with stdin from /dev/null and stdout and stderr in
/// files, and kills the whole group when it outlives its time limit.
enum Runner {
    /// Bytes of each output stream kept for the checks (the head; the files keep everything).
    static let keptBytes = 1 << 20

    static func run(
        binary: String, arguments: [String], directory: String, environment: [String: String], timeout: Double,
        outputPrefix: String = "_", stopAfter: Double? = nil
    ) -> RunResult {
        let stdoutPath = directory + "/\(outputPrefix)stdout.txt"
        let stderrPath = directory + "/\(outputPrefix)stderr.txt"
        let start = Date()
        let outcome = spawnAndWait(
            binary: binary, arguments: arguments, directory: directory, environment: environment, timeout: timeout,
            stdoutPath: stdoutPath, stderrPath: stderrPath, stopAfter: stopAfter)
        let seconds = Date().timeIntervalSince(start)
        return RunResult(outcome: outcome, stdout: head(stdoutPath), stderr: head(stderrPath), seconds: seconds)
    }

    private static func head(_ path: String) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: keptBytes)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    private static func spawnAndWait(
        binary: String, arguments: [String], directory: String, environment: [String: String], timeout: Double,
        stdoutPath: String, stderrPath: String, stopAfter: Double?
    ) -> Outcome {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, so a timeout kills whatever it started too.
        posix_spawnattr_setpgroup(&attributes, 0)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        // `posix_spawn_file_actions_addchdir_np` is not in every libc's Swift overlay, and chdir in
        // this process would race between workers: a shell changes folder, then becomes the program.
        let shell = ["/bin/sh", "-c", "cd \"$0\" || exit 125; exec \"$@\"", directory, binary]
        let argv: [UnsafeMutablePointer<CChar>?] = (shell + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] =
            environment.sorted(by: { $0.key < $1.key }).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let error = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp)
        guard error == 0 else { return .spawnFailed(error) }

        let deadline = Date().addingTimeInterval(timeout)
        // A server (`dashboard`) runs until stopped: it is sent SIGTERM, as an operator's Ctrl-C
        // or `kill` would, and must then exit on its own, cleanly, within the time limit.
        var stopAt = stopAfter.map { Date().addingTimeInterval($0) }
        var status: Int32 = 0
        var pause: UInt32 = 500
        while true {
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid { break }
            if waited < 0 && errno != EINTR { return .spawnFailed(errno) }
            if let stop = stopAt, Date() > stop {
                kill(pid, SIGTERM)
                stopAt = nil
            }
            if Date() > deadline {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return .timedOut
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        // Anything the program left running in its group goes too.
        kill(-pid, SIGKILL)
        let signal = status & 0x7F
        if signal == 0 { return .exited((status >> 8) & 0xFF) }
        return .signalled(signal)
    }
}
