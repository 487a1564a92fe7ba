import Crypto
import Foundation
import PerpModel

/// A Binance API key and its HMAC secret (reliability-anchors.md §2.1 "Signing", §3.1 "Keys").
/// Neither ever prints: `description`, `debugDescription` and the mirror are `<redacted>`, and
/// the secret leaves this type only as the key of ``BinanceSigner`` (decision 0012 §7).
public struct BinanceCredentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let apiKey: String
    private let secret: String

    public init(apiKey: String, secret: String) {
        self.apiKey = apiKey
        self.secret = secret
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: ["credentials": "<redacted>"], displayStyle: .struct) }

    /// The `X-MBX-APIKEY` header's value (Binance "Endpoint security type": the key travels in
    /// that header, never in the query).
    var apiKeyHeader: String { apiKey }

    /// The signer keyed with the secret.
    var signer: BinanceSigner { BinanceSigner(secret: secret) }

    /// The environment variables that hold a key pair (both or neither).
    public static let environmentKeys = (apiKey: "NMRPERP_BINANCE_API_KEY", secret: "NMRPERP_BINANCE_API_SECRET")

    /// The largest key file read (a key pair is ~150 bytes).
    static let maxFileBytes = 64 * 1024

    /// The key pair from `NMRPERP_BINANCE_API_KEY` + `NMRPERP_BINANCE_API_SECRET` (both or
    /// neither), else from `$home/keys/binance.json` (`{"api_key": "...", "api_secret": "..."}`),
    /// which must be readable by its owner only (mode 0600). `nil` when neither exists.
    /// Errors name the variable or the file and the problem, never any key material.
    public static func load(environment: [String: String], home: String) throws(BinanceCredentialsError) -> BinanceCredentials? {
        let key = environment[environmentKeys.apiKey].flatMap { $0.isEmpty ? nil : $0 }
        let secret = environment[environmentKeys.secret].flatMap { $0.isEmpty ? nil : $0 }
        switch (key, secret) {
        case (let key?, let secret?):
            return try validated(apiKey: key, secret: secret, source: "the environment")
        case (.some, nil):
            throw BinanceCredentialsError(
                "\(environmentKeys.apiKey) is set but \(environmentKeys.secret) is not: set both, or neither to use the key file")
        case (nil, .some):
            throw BinanceCredentialsError(
                "\(environmentKeys.secret) is set but \(environmentKeys.apiKey) is not: set both, or neither to use the key file")
        case (nil, nil):
            break
        }
        let path = (home.hasSuffix("/") ? String(home.dropLast()) : home) + "/keys/binance.json"
        let found: JSONValue?
        do throws(KeyFileError) {
            found = try KeyFile.readObject(path: path, maxBytes: maxFileBytes, expected: #"{"api_key": "...", "api_secret": "..."}"#)
        } catch {
            throw BinanceCredentialsError(error.message)
        }
        guard let json = found else { return nil }
        guard let fileKey = json["api_key"]?.stringValue, !fileKey.isEmpty else {
            throw BinanceCredentialsError("\(path) has no \"api_key\" string")
        }
        guard let fileSecret = json["api_secret"]?.stringValue, !fileSecret.isEmpty else {
            throw BinanceCredentialsError("\(path) has no \"api_secret\" string")
        }
        return try validated(apiKey: fileKey, secret: fileSecret, source: path)
    }

    /// Binance keys and secrets are 64 letters and digits; anything printable without spaces
    /// is accepted, but control characters or whitespace (a pasted newline) are refused so a
    /// header never carries them.
    private static func validated(apiKey: String, secret: String, source: String) throws(BinanceCredentialsError)
        -> BinanceCredentials
    {
        func clean(_ text: String) -> Bool { text.utf8.count <= 512 && text.utf8.allSatisfy { (0x21...0x7E).contains($0) } }
        guard clean(apiKey) else { throw BinanceCredentialsError("the API key from \(source) has spaces, control or non-ASCII characters") }
        guard clean(secret) else {
            throw BinanceCredentialsError("the API secret from \(source) has spaces, control or non-ASCII characters")
        }
        return BinanceCredentials(apiKey: apiKey, secret: secret)
    }
}

/// Why credentials could not be loaded: one line naming the variable or file, never a key.
public struct BinanceCredentialsError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Binance's request signature (reliability-anchors.md §2.1 "Signing"; Binance USD-M "SIGNED
/// (TRADE and USER_DATA) Endpoint security"): `hex(HMAC_SHA256(secret, totalParams))`, where
/// `totalParams` is the url-encoded query string (plus the form body when there is one).
public struct BinanceSigner: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private let key: SymmetricKey

    public init(secret: String) { key = SymmetricKey(data: Array(secret.utf8)) }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }

    /// The lowercase hex HMAC-SHA256 of `message`.
    public func signature(for message: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: key)
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in mac {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `name=value&…` in the given order, each part percent-encoded as
    /// `application/x-www-form-urlencoded` expects (RFC 3986 unreserved characters kept).
    public static func encode(_ parameters: [(String, String)]) -> String {
        parameters.map { percentEncode($0.0) + "=" + percentEncode($0.1) }.joined(separator: "&")
    }

    static func percentEncode(_ text: String) -> String {
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
