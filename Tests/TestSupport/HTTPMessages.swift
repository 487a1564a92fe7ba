// Value types exchanged with `LoopbackHTTPServer`, plus the pure (I/O-free) parsing helpers it uses.

import Foundation

/// One request received by `LoopbackHTTPServer`, as parsed from the wire.
public struct HTTPRequestRecord: Sendable, Equatable {
    /// Request method exactly as sent (e.g. `GET`, `POST`).
    public let method: String
    /// Path part of the request target, without the query string and still percent-encoded
    /// (e.g. `/fapi/v1/premiumIndex`). For absolute-form targets the scheme and authority are removed.
    public let path: String
    /// Query parameters, percent-decoded (`+` is kept literally, as URLComponents sends it).
    /// A repeated key keeps its last value; a key without `=` maps to `""`.
    public let query: [String: String]
    /// The request target exactly as sent on the request line (path + `?` + query).
    public let rawTarget: String
    /// Header fields with lower-cased names; repeated fields are joined with `", "`.
    public let headers: [String: String]
    /// The request body (de-chunked when the client used `Transfer-Encoding: chunked`).
    public let body: [UInt8]

    public init(
        method: String, path: String, query: [String: String], rawTarget: String,
        headers: [String: String], body: [UInt8]
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.rawTarget = rawTarget
        self.headers = headers
        self.body = body
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// Header value by case-insensitive name.
    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// What `LoopbackHTTPServer` answers to one request.
public struct HTTPResponseSpec: Sendable, Equatable {
    /// Status code (clamped to 100...999 when written).
    public var status: Int
    /// Extra header fields. `Content-Length`, `Connection` and `Transfer-Encoding` are always
    /// written by the server itself and are ignored here.
    public var headers: [String: String]
    public var body: [UInt8]
    /// Seconds to wait before answering (or before dropping); for client-timeout tests.
    public var delaySeconds: Double
    /// Close the connection without writing any response.
    public var dropConnection: Bool

    public init(
        status: Int = 200, headers: [String: String] = [:], body: [UInt8] = [],
        delaySeconds: Double = 0, dropConnection: Bool = false
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delaySeconds = delaySeconds
        self.dropConnection = dropConnection
    }

    /// A JSON body with `Content-Type: application/json`.
    public static func json(_ text: String, status: Int = 200) -> HTTPResponseSpec {
        HTTPResponseSpec(
            status: status, headers: ["Content-Type": "application/json"], body: Array(text.utf8))
    }

    /// Raw bytes, with an optional `Content-Type`.
    public static func bytes(
        _ body: [UInt8], status: Int = 200, contentType: String? = "application/octet-stream"
    ) -> HTTPResponseSpec {
        var headers: [String: String] = [:]
        if let contentType { headers["Content-Type"] = contentType }
        return HTTPResponseSpec(status: status, headers: headers, body: body)
    }

    /// Raw bytes from `Data`, with an optional `Content-Type`.
    public static func bytes(
        _ data: Data, status: Int = 200, contentType: String? = "application/octet-stream"
    ) -> HTTPResponseSpec {
        bytes([UInt8](data), status: status, contentType: contentType)
    }

    /// A `text/plain; charset=utf-8` body.
    public static func text(_ text: String, status: Int = 200) -> HTTPResponseSpec {
        bytes(Array(text.utf8), status: status, contentType: "text/plain; charset=utf-8")
    }

    /// An empty body with the given status.
    public static func status(_ status: Int, headers: [String: String] = [:]) -> HTTPResponseSpec {
        HTTPResponseSpec(status: status, headers: headers)
    }

    /// The contents of a file (e.g. a recorded venue payload); `nil` when it cannot be read.
    public static func file(
        _ url: URL, status: Int = 200, contentType: String? = "application/json"
    ) -> HTTPResponseSpec? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        return bytes(data, status: status, contentType: contentType)
    }

    /// A response that closes the connection without answering.
    public static var drop: HTTPResponseSpec { HTTPResponseSpec(dropConnection: true) }

    /// Returns a copy with one more header field.
    public func withHeader(_ name: String, _ value: String) -> HTTPResponseSpec {
        var copy = self
        copy.headers[name] = value
        return copy
    }

    /// Returns a copy answering after `seconds`.
    public func delayed(by seconds: Double) -> HTTPResponseSpec {
        var copy = self
        copy.delaySeconds = seconds
        return copy
    }
}

// MARK: - Pure parsing helpers

/// Parsed request line + header block (no body yet).
struct HTTPRequestHead: Equatable {
    var method: String
    var rawTarget: String
    var path: String
    var query: [String: String]
    var version: String
    var headers: [String: String]
}

/// A failure that is answered with a status code before closing.
struct HTTPFailure: Error, Equatable {
    var status: Int
    var message: String
}

enum HTTPParsing {
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    static func isTokenScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && isTokenByte(UInt8(scalar.value))
    }

    static func isToken(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(isTokenByte)
    }

    /// Parses the request line and header lines (each without its line terminator).
    static func parseHead(requestLine: String, headerLines: [String]) -> Result<
        HTTPRequestHead, HTTPFailure
    > {
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            return .failure(HTTPFailure(status: 400, message: "malformed request line"))
        }
        let method = parts[0]
        let target = parts[1]
        let version = parts[2]
        guard isToken(method) else {
            return .failure(HTTPFailure(status: 400, message: "malformed method"))
        }
        guard version.hasPrefix("HTTP/") else {
            return .failure(HTTPFailure(status: 400, message: "malformed HTTP version"))
        }
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            return .failure(HTTPFailure(status: 505, message: "unsupported HTTP version"))
        }
        guard !target.isEmpty, target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .failure(HTTPFailure(status: 400, message: "malformed request target"))
        }
        guard let (path, queryText) = splitTarget(String(target)) else {
            return .failure(HTTPFailure(status: 400, message: "malformed request target"))
        }

        var headers: [String: String] = [:]
        for line in headerLines {
            if let first = line.utf8.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                return .failure(HTTPFailure(status: 400, message: "obsolete header line folding"))
            }
            guard let colon = line.firstIndex(of: ":") else {
                return .failure(HTTPFailure(status: 400, message: "header line without colon"))
            }
            let name = line[..<colon]
            guard isToken(name) else {
                return .failure(HTTPFailure(status: 400, message: "malformed header name"))
            }
            let value = trimOWS(line[line.index(after: colon)...])
            if value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
                return .failure(HTTPFailure(status: 400, message: "control character in header value"))
            }
            let key = name.lowercased()
            if let existing = headers[key] {
                headers[key] = existing + ", " + value
            } else {
                headers[key] = value
            }
        }
        return .success(
            HTTPRequestHead(
                method: String(method), rawTarget: String(target), path: path,
                query: parseQuery(queryText), version: String(version), headers: headers))
    }

    /// Splits a request target into (path, query). Accepts origin-form (`/a?b`), absolute-form
    /// (`http://host/a?b`) and asterisk-form (`*`). Fragments are dropped.
    static func splitTarget(_ target: String) -> (String, Substring)? {
        var rest = Substring(target)
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        if rest == "*" { return ("*", "") }
        if !rest.hasPrefix("/") {
            // absolute-form: scheme "://" authority path
            guard let schemeEnd = rest.range(of: "://") else { return nil }
            let afterAuthority = rest[schemeEnd.upperBound...]
            if let slash = afterAuthority.firstIndex(where: { $0 == "/" || $0 == "?" }) {
                rest = afterAuthority[slash...]
                if rest.hasPrefix("?") { return ("/", rest.dropFirst()) }
            } else {
                return ("/", "")
            }
        }
        if let question = rest.firstIndex(of: "?") {
            return (String(rest[..<question]), rest[rest.index(after: question)...])
        }
        return (String(rest), "")
    }

    static func parseQuery(_ text: Substring) -> [String: String] {
        var result: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            if let equals = pair.firstIndex(of: "=") {
                result[percentDecode(pair[..<equals])] = percentDecode(pair[pair.index(after: equals)...])
            } else {
                result[percentDecode(pair)] = ""
            }
        }
        return result
    }

    /// Decodes `%XX` escapes; malformed escapes are kept literally. `+` is not touched.
    static func percentDecode(_ text: Substring) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func trimOWS(_ text: Substring) -> String {
        var slice = text
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }

    /// Parses a Content-Length value; repeated identical values (`"5, 5"`) are accepted.
    static func contentLength(_ value: String) -> Int? {
        var result: Int?
        for item in value.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = trimOWS(item)
            guard !trimmed.isEmpty, trimmed.count <= 18,
                trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let number = Int(trimmed)
            else { return nil }
            if let result, result != number { return nil }
            result = number
        }
        return result
    }

    /// Parses a chunk-size line (`1a;ext=1`) into its size.
    static func chunkSize(_ line: String) -> Int? {
        let sizeText = trimOWS(
            line.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0])
        guard !sizeText.isEmpty, sizeText.count <= 15 else { return nil }
        return Int(sizeText, radix: 16).flatMap { $0 >= 0 ? $0 : nil }
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 418: return "I'm a teapot"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Status"
        }
    }

    /// Serialises a response. Bodies are omitted for HEAD requests and for 1xx/204/304.
    static func serialize(_ spec: HTTPResponseSpec, isHead: Bool) -> [UInt8] {
        let status = min(max(spec.status, 100), 999)
        let bodyForbidden = status < 200 || status == 204 || status == 304
        var text = "HTTP/1.1 \(status) \(reasonPhrase(status))\r\n"
        let reserved: Set<String> = ["content-length", "connection", "transfer-encoding"]
        for (name, value) in spec.headers.sorted(by: { $0.key < $1.key }) {
            // Filter scalars, not Characters: "\r\n" is a single Character.
            let cleanName = String(
                String.UnicodeScalarView(name.unicodeScalars.filter { isTokenScalar($0) }))
            guard !cleanName.isEmpty, !reserved.contains(cleanName.lowercased()) else { continue }
            let cleanValue = String(
                String.UnicodeScalarView(
                    value.unicodeScalars.filter { $0 != "\r" && $0 != "\n" && $0 != "\0" }))
            text += "\(cleanName): \(cleanValue)\r\n"
        }
        if !bodyForbidden { text += "Content-Length: \(spec.body.count)\r\n" }
        text += "Connection: close\r\n\r\n"
        var bytes = Array(text.utf8)
        if !bodyForbidden && !isHead { bytes += spec.body }
        return bytes
    }
}
