import Foundation
import PerpMarketData

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The files one command writes (`--out`, `--trades`, `--report`, `--journal`), checked before
/// any work and written all or none (issue 11, "Writes"; docs/decisions/0010-output-files.md).
///
/// - A regular file (or a path that does not exist yet) is written to a temporary file in the
///   same folder (`O_EXCL`, the existing file's mode or 0644, `fsync`), then renamed over the
///   destination, so a failure never leaves half a file. A symbolic link is followed: its
///   target is replaced, the link stays.
/// - A character device (`/dev/null`) or a named pipe is written through: opened as it is,
///   never created, truncated, renamed or removed. So is anything under `/dev/` or `/proc/`
///   (`/dev/stdout` redirected to a file appends to it).
/// - A folder, a socket or a block device is refused, as is a destination whose folder does
///   not exist or cannot be written, and two flags naming the same file.
///
/// ``write(_:)`` stages every temporary file first; only when all are complete does it write
/// through devices and pipes and rename the staged files into place. On any failure it removes
/// its temporary files and no regular destination has changed.
struct OutputFiles {
    enum Kind: Equatable {
        /// Replace an existing regular file: keep its permission bits and owner.
        case replace(mode: mode_t, owner: uid_t, group: gid_t)
        /// Create a new file (mode 0644 less the umask).
        case create
        /// Write through a device or pipe, opened as it is.
        case writeThrough
    }

    struct Destination {
        /// The flag that named it (`--trades`), for messages.
        var flag: String
        /// The path as given.
        var path: String
        /// What is written: the path with every symbolic link resolved (for ``Kind/writeThrough``, the path as given).
        var target: String
        var kind: Kind

        /// `--trades out.csv`, for messages.
        var label: String { "\(flag) \(path)" }

        /// The same for every spelling of one file (`out.csv`, `./out.csv`, a link to it): the
        /// device and inode of an existing file, the resolved folder and name of a new one.
        var identity: String {
            var info = stat()
            if stat(target, &info) == 0 { return "\(info.st_dev):\(info.st_ino)" }
            let name = target.split(separator: "/").last.map(String.init) ?? target
            guard let folder = realpath(OutputFiles.folder(of: target), nil) else { return target }
            defer { free(folder) }
            return String(cString: folder) + "/" + name
        }
    }

    private(set) var destinations: [Destination] = []

    /// Checks every requested destination (`nil` paths are not requested), before any work.
    ///
    /// - Throws: ``CLIError`` with one line naming the flag and path that cannot be written.
    /// An existing regular file is replaced only with `force` (`--force`); a device or pipe is
    /// always written through (issue 15: every output flag refuses to overwrite, as `bot init` did).
    init(_ requested: [(flag: String, path: String?)], force: Bool) throws {
        for (flag, path) in requested {
            guard let path else { continue }
            let destination = try Self.check(flag: flag, path: path)
            if !force, case .replace = destination.kind {
                throw CLIError("\(flag) \(path) already exists; pass --force to replace it, or name another file")
            }
            if destination.kind != .writeThrough,
                let other = destinations.first(where: { $0.kind != .writeThrough && $0.identity == destination.identity })
            {
                throw CLIError("\(other.flag) and \(flag) both name \(path); give each its own file")
            }
            destinations.append(destination)
        }
    }

    /// True when no output was requested.
    var isEmpty: Bool { destinations.isEmpty }

    /// Writes every destination's content (`content(flag)`), all or none.
    func write(_ content: (String) throws -> String) throws {
        guard !destinations.isEmpty else { return }
        let texts = try destinations.map { try content($0.flag) }
        var staged: [(temporary: String, destination: Destination)] = []
        func removeStaged() { for entry in staged { unlink(entry.temporary) } }
        // 1. Every regular destination into a complete temporary file beside it.
        for (destination, text) in zip(destinations, texts) where destination.kind != .writeThrough {
            do {
                staged.append((try Self.stage(text, for: destination), destination))
            } catch {
                removeStaged()
                throw CLIError("cannot write \(destination.label): \(error); no output file was written")
            }
        }
        // 2. Devices and pipes, which cannot be staged.
        for (destination, text) in zip(destinations, texts) where destination.kind == .writeThrough {
            do { try Self.writeThrough(text, to: destination) } catch {
                removeStaged()
                throw CLIError("cannot write \(destination.label): \(error); no output file was replaced")
            }
        }
        // 3. Rename the staged files into place.
        for (index, entry) in staged.enumerated() where rename(entry.temporary, entry.destination.target) != 0 {
            let reason = String(cString: strerror(errno))
            for rest in staged[index...] { unlink(rest.temporary) }
            let done = staged[..<index].map(\.destination.label)
            throw CLIError(
                "cannot write \(entry.destination.label): \(reason)"
                    + (done.isEmpty ? "" : " (already written: \(done.joined(separator: ", ")))"))
        }
        for folder in Set(staged.map { Self.folder(of: $0.destination.target) }) { Self.syncFolder(folder) }
    }

    // MARK: - Checking a destination

    static func check(flag: String, path: String) throws -> Destination {
        func refuse(_ why: String) -> CLIError { CLIError("cannot write \(flag) \(path): \(why)") }
        guard !path.isEmpty else { throw CLIError("\(flag) needs a file name") }
        var info = stat()
        if lstat(path, &info) != 0 {
            guard errno == ENOENT else { throw refuse(String(cString: strerror(errno))) }
            try checkFolder(of: path, refuse)
            return Destination(flag: flag, path: path, target: path, kind: .create)
        }
        if path.hasPrefix("/dev/") || path.hasPrefix("/proc/") {
            // /dev/stdout, /dev/fd/3, /proc/self/fd/1: a descriptor the caller set up; write through it.
            guard stat(path, &info) == 0 else { throw refuse(String(cString: strerror(errno))) }
            try checkWriteThroughType(info, refuse)
            guard access(path, W_OK) == 0 else { throw refuse(String(cString: strerror(errno))) }
            return Destination(flag: flag, path: path, target: path, kind: .writeThrough)
        }
        var target = path
        if (info.st_mode & S_IFMT) == S_IFLNK {
            if stat(path, &info) != 0 {
                guard errno == ENOENT else { throw refuse(String(cString: strerror(errno))) }
                // A link to a file that does not exist yet: create the file it names.
                target = try danglingTarget(of: path, refuse)
                try checkFolder(of: target, refuse)
                return Destination(flag: flag, path: path, target: target, kind: .create)
            }
            guard (info.st_mode & S_IFMT) != S_IFREG else {
                guard let resolved = realpath(path, nil) else { throw refuse(String(cString: strerror(errno))) }
                target = String(cString: resolved)
                free(resolved)
                return try regular(flag: flag, path: path, target: target, info: info, refuse)
            }
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            return try regular(flag: flag, path: path, target: target, info: info, refuse)
        default:
            try checkWriteThroughType(info, refuse)
            guard access(path, W_OK) == 0 else { throw refuse(String(cString: strerror(errno))) }
            return Destination(flag: flag, path: path, target: path, kind: .writeThrough)
        }
    }

    private static func regular(flag: String, path: String, target: String, info: stat, _ refuse: (String) -> CLIError) throws
        -> Destination
    {
        guard access(target, W_OK) == 0 else { throw refuse("the file is not writable (\(String(cString: strerror(errno))))") }
        try checkFolder(of: target, refuse)
        return Destination(
            flag: flag, path: path, target: target, kind: .replace(mode: info.st_mode & 0o7777, owner: info.st_uid, group: info.st_gid))
    }

    /// Devices and pipes are written through; folders, sockets and block devices are refused.
    private static func checkWriteThroughType(_ info: stat, _ refuse: (String) -> CLIError) throws {
        switch info.st_mode & S_IFMT {
        case S_IFCHR, S_IFIFO, S_IFREG: return
        case S_IFDIR: throw refuse("it is a folder; give a file name")
        case S_IFSOCK: throw refuse("it is a socket, not a file")
        case S_IFBLK: throw refuse("it is a block device, not a file")
        default: throw refuse("it is not a regular file")
        }
    }

    /// The folder that will hold the temporary file must exist and be writable.
    private static func checkFolder(of path: String, _ refuse: (String) -> CLIError) throws {
        let folder = folder(of: path)
        var info = stat()
        guard stat(folder, &info) == 0 else {
            throw refuse(errno == ENOENT ? "the folder \(folder) does not exist" : "\(folder): \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw refuse("\(folder) is not a folder") }
        guard access(folder, W_OK | X_OK) == 0 else { throw refuse("the folder \(folder) is not writable") }
    }

    /// Follows a chain of symbolic links to the path that does not exist.
    private static func danglingTarget(of path: String, _ refuse: (String) -> CLIError) throws -> String {
        var current = path
        for _ in 0..<40 {
            var info = stat()
            guard lstat(current, &info) == 0 else { return current }
            guard (info.st_mode & S_IFMT) == S_IFLNK else { return current }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = readlink(current, &buffer, buffer.count - 1)
            guard count > 0 else { throw refuse(String(cString: strerror(errno))) }
            let link = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = link.hasPrefix("/") ? link : folder(of: current) + "/" + link
        }
        throw refuse("too many levels of symbolic links")
    }

    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    // MARK: - Writing

    struct IOFailure: Error, CustomStringConvertible {
        var description: String
        /// `what` failed, for the reason in `errno`.
        static func failed(_ what: String) -> IOFailure { IOFailure(description: "\(what): \(String(cString: strerror(errno)))") }
    }

    /// Writes `text` to a new temporary file beside the destination, synced; returns its path.
    static func stage(_ text: String, for destination: Destination) throws(IOFailure) -> String {
        let folder = folder(of: destination.target)
        guard let (descriptor, temporary) = DurableWrite.temporaryFile(beside: destination.target, folder: folder) else {
            throw .failed("creating a temporary file in \(folder)")
        }
        do throws(IOFailure) {
            defer { close(descriptor) }
            if case .replace(let mode, let owner, let group) = destination.kind {
                if owner != geteuid() || group != getegid() { _ = fchown(descriptor, owner, group) }
                guard fchmod(descriptor, mode) == 0 else { throw IOFailure.failed("setting the file mode") }
            }
            try writeAll(text, to: descriptor)
            guard fsync(descriptor) == 0 else { throw IOFailure.failed("syncing") }
        } catch {
            unlink(temporary)
            throw error
        }
        return temporary
    }

    /// Opens a device or pipe as it is (never created or truncated) and writes `text` to it.
    static func writeThrough(_ text: String, to destination: Destination) throws(IOFailure) {
        // O_NONBLOCK: a pipe nobody reads fails at once (ENXIO) instead of waiting forever.
        let descriptor = open(destination.target, O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENXIO { throw IOFailure(description: "nothing is reading from the pipe") }
            throw .failed("opening")
        }
        defer { close(descriptor) }
        let flags = fcntl(descriptor, F_GETFL)
        if flags >= 0 { _ = fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) }
        try writeAll(text, to: descriptor)
    }

    static func writeAll(_ text: String, to descriptor: Int32) throws(IOFailure) {
        if let code = DurableWrite.all(text, to: descriptor) {
            errno = code
            throw .failed("writing")
        }
    }

    /// Makes the renames durable (best effort: not every file system syncs a folder).
    static func syncFolder(_ folder: String) { DurableWrite.syncFolder(folder) }
}

/// Writes one output file through ``OutputFiles``: a temporary file renamed into place, or
/// written through a device or pipe; never half a file.
func writeAtomically(_ text: String, to path: String, flag: String = "--out", force: Bool) throws {
    try OutputFiles([(flag, path)], force: force).write { _ in text }
}
