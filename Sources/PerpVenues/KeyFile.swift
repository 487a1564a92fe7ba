import Foundation
import PerpModel

#if canImport(Glibc)
    import Glibc
#endif

/// A venue's key file in `$NMRPERP_HOME/keys/` (reliability.md "Secrets"): a JSON object in a
/// regular file readable by its owner only (mode 0600), at most `maxBytes`. Errors name the file
/// and the problem, never its content (a JSON error shows only the byte offset: the parser's
/// reason may quote the text around it).
enum KeyFile {
    /// The file's object, or `nil` when the file does not exist. `expected` describes the
    /// object's shape for the messages.
    static func readObject(path: String, maxBytes: Int, expected: String) throws(KeyFileError) -> JSONValue? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw KeyFileError("\(path): cannot read its status (errno \(errno))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw KeyFileError("\(path) is not a regular file") }
        let mode = Int(info.st_mode) & 0o777
        if mode & 0o077 != 0 {
            throw KeyFileError("\(path) is readable by group or others (mode \(String(format: "%04o", mode))); run chmod 600 \(path)")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw KeyFileError("\(path): cannot open it for reading") }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: maxBytes + 1) ?? Data()
        } catch {
            throw KeyFileError("\(path): cannot read it")
        }
        guard data.count <= maxBytes else { throw KeyFileError("\(path) is larger than \(maxBytes) bytes") }
        let json: JSONValue
        do throws(JSONParseError) {
            json = try JSONParser.parse([UInt8](data))
        } catch {
            throw KeyFileError("\(path) is not valid JSON (at byte \(error.offset)); expected \(expected)")
        }
        guard case .object = json else { throw KeyFileError("\(path) is not a JSON object; expected \(expected)") }
        return json
    }
}

struct KeyFileError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
