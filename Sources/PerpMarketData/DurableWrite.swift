#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The two system calls every file the tool writes ends with (decision 0010): all of a text
/// through `write(2)`, retried on `EINTR`; and a folder synced after a rename or link, so the
/// new name survives a power cut.
public enum DurableWrite {
    /// Writes all of `text` to `descriptor`; `nil` on success, else the `errno` of the failure.
    public static func all(_ text: String, to descriptor: Int32) -> Int32? {
        var failure: Int32?
        var copy = text
        copy.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return }
            var offset = 0
            while offset < bytes.count {
                let count = write(descriptor, base + offset, bytes.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += count
            }
        }
        return failure
    }

    /// Syncs `folder` (best effort: not every file system syncs a folder).
    public static func syncFolder(_ folder: String) {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    /// Creates a new temporary file beside `target` (`.NAME.nmrperp-PID-N.tmp`, at most 100
    /// bytes of the name kept so a long name leaves room for the suffix), open for writing;
    /// `nil` with `errno` set when it cannot.
    public static func temporaryFile(beside target: String, folder: String) -> (descriptor: Int32, path: String)? {
        var base = target.split(separator: "/").last.map(String.init) ?? "output"
        while base.utf8.count > 100 { base.removeLast() }
        for attempt in 0..<100 {
            let temporary = "\(folder)/.\(base).nmrperp-\(getpid())-\(attempt).tmp"
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if descriptor >= 0 { return (descriptor, temporary) }
            if errno != EEXIST { return nil }
        }
        return nil
    }
}
