import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Who holds a session: written into the lock file by its owner.
public struct SessionOwner: Sendable, Equatable, CustomStringConvertible {
    public var pid: Int32
    /// When the owner took the lock (UTC, ISO 8601), as the owner wrote it.
    public var since: String
    public var host: String

    public init(pid: Int32, since: String, host: String) {
        self.pid = pid
        self.since = since
        self.host = host
    }

    /// `pid 1234 on host, since 2026-12-02T21:58:28Z`
    public var description: String { "pid \(pid)\(host.isEmpty ? "" : " on \(host)")\(since.isEmpty ? "" : ", since \(since)")" }

    var fileText: String { "pid=\(pid)\nsince=\(since)\nhost=\(host)\n" }

    init?(fileText: String) {
        var fields: [String: String] = [:]
        for line in fileText.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        guard let pid = fields["pid"].flatMap({ Int32($0) }), pid > 0 else { return nil }
        self.init(pid: pid, since: fields["since"] ?? "", host: fields["host"] ?? "")
    }
}

/// Why a session lock could not be taken.
public enum SessionLockError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Another process holds it (`owner` is `nil` when it has not written its name yet).
    case held(path: String, owner: SessionOwner?)
    /// The lock file could not be created or locked.
    case cannotLock(path: String, reason: String)

    public var description: String {
        switch self {
        case .held(let path, let owner):
            return "\(path) is locked by \(owner.map(\.description) ?? "another process")"
        case .cannotLock(let path, let reason):
            return "cannot lock \(path): \(reason)"
        }
    }
}

/// One owner per session: an exclusive `flock(2)` on a sidecar file (`NAME.lock` beside
/// `NAME.sqlite`), held for the life of the process, with the owner's pid, start time and host
/// written into it.
///
/// Why a sidecar and `flock`: SQLite takes its own POSIX (`fcntl`) locks on the database file,
/// and a process's POSIX locks on a file are all dropped when *any* descriptor of it is closed,
/// so a lock on the database would vanish the first time GRDB closed a connection. `flock`
/// locks belong to the open file description: two opens conflict even inside one process, the
/// kernel drops the lock when the process dies (`kill -9` leaves nothing stale to clean up),
/// and the file is never deleted (deleting a locked file lets a second process lock a new
/// inode under the same name). Advisory: it keeps out other `nmrperp` processes, not other
/// programs. On network file systems `flock` may be local to one machine.
public final class SessionLock: @unchecked Sendable {
    public let path: String
    public let owner: SessionOwner
    private let lock = NSLock()
    private var descriptor: Int32

    /// The lock file of a session database: `x/NAME.sqlite` → `x/NAME.lock`.
    public static func path(forDatabase database: String) -> String {
        let url = URL(fileURLWithPath: database)
        return url.deletingPathExtension().appendingPathExtension("lock").path
    }

    /// Takes the lock at `path` (creating the file and its folder), or throws
    /// ``SessionLockError/held(path:owner:)`` naming the process that holds it. Does not wait
    /// for it: a reader that peeks (``holder(path:)``) holds it for microseconds, so a busy
    /// lock is tried again a few times over a quarter of a second before giving up.
    public static func acquire(path: String, since: String, host: String = ProcessInfo.processInfo.hostName) throws(SessionLockError)
        -> SessionLock
    {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw .cannotLock(path: path, reason: "cannot create folder \(folder): \(error.localizedDescription)")
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotLock(path: path, reason: String(cString: strerror(errno))) }
        var attempts = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            attempts += 1
            guard code == EWOULDBLOCK, attempts < 6 else {
                let owner = readOwner(fd: fd)
                close(fd)
                if code == EWOULDBLOCK { throw .held(path: path, owner: owner) }
                throw .cannotLock(path: path, reason: String(cString: strerror(code)))
            }
            usleep(50_000)
        }
        let owner = SessionOwner(pid: getpid(), since: since, host: host)
        let bytes = Array(owner.fileText.utf8)
        guard ftruncate(fd, 0) == 0, bytes.withUnsafeBytes({ pwrite(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw .cannotLock(path: path, reason: "cannot write the owner: \(reason)")
        }
        return SessionLock(path: path, owner: owner, descriptor: fd)
    }

    /// Whether a lock is held, and by whom when the owner has written its name.
    public enum State: Sendable, Equatable {
        case free
        case held(SessionOwner?)
    }

    /// Who holds the lock at `path` now (``State/free`` also when there is no lock file).
    /// Read-only commands use it to say "running (pid N)"; it never blocks.
    public static func state(path: String) -> State {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .free }
        defer { close(fd) }
        // A shared lock is refused only while an owner holds the exclusive one.
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return .free
        }
        guard errno == EWOULDBLOCK else { return .free }
        return .held(readOwner(fd: fd))
    }

    private static func readOwner(fd: Int32) -> SessionOwner? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return SessionOwner(fileText: String(decoding: buffer[0..<count], as: UTF8.self))
    }

    private init(path: String, owner: SessionOwner, descriptor: Int32) {
        self.path = path
        self.owner = owner
        self.descriptor = descriptor
    }

    /// Gives the lock up (also done when the process ends, however it ends). The file stays,
    /// emptied, for the next owner.
    public func release() {
        lock.withLock {
            guard descriptor >= 0 else { return }
            _ = ftruncate(descriptor, 0)
            flock(descriptor, LOCK_UN)
            close(descriptor)
            descriptor = -1
        }
    }

    deinit { release() }
}
