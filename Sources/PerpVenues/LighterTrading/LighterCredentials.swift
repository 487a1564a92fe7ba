import Foundation
import PerpModel

/// A Lighter account's trading key (lighter-live.md §2.1): the account index, the API key's
/// index (4…254: the docs reserve 0–3 for Lighter's own apps, which reset them) and its private key.
/// Never printed: every description is `<redacted>` but the indices.
public struct LighterCredentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let accountIndex: Int64
    public let apiKeyIndex: Int32
    public let privateKey: LighterPrivateKey

    public init(accountIndex: Int64, apiKeyIndex: Int32, privateKey: LighterPrivateKey) {
        self.accountIndex = accountIndex
        self.apiKeyIndex = apiKeyIndex
        self.privateKey = privateKey
    }

    public var description: String { "Lighter account \(accountIndex), API key \(apiKeyIndex), private key <redacted>" }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(
            self, children: ["accountIndex": accountIndex, "apiKeyIndex": apiKeyIndex, "privateKey": "<redacted>"], displayStyle: .struct)
    }

    public static let environmentKeys = (
        account: "NMRPERP_LIGHTER_ACCOUNT_INDEX", apiKey: "NMRPERP_LIGHTER_API_KEY_INDEX", privateKey: "NMRPERP_LIGHTER_API_PRIVATE_KEY"
    )
    static let maxFileBytes = 64 * 1024
    /// The shape of `keys/lighter.json`, for messages.
    public static let expected = #"{"account_index": 123, "api_key_index": 4, "private_key": "0x…"}"#

    /// The key from the three `NMRPERP_LIGHTER_*` variables (all or none), else from
    /// `$home/keys/lighter.json` (``expected``), readable by its owner only (mode 0600). `nil`
    /// when neither exists. Errors name the variable or the file and the problem, never the key.
    public static func load(environment: [String: String], home: String) throws(LighterCredentialsError) -> LighterCredentials? {
        let names = [environmentKeys.account, environmentKeys.apiKey, environmentKeys.privateKey]
        let values = names.map { environment[$0].flatMap { $0.isEmpty ? nil : $0 } }
        if values.contains(where: { $0 != nil }) {
            let missing = zip(names, values).filter { $0.1 == nil }.map(\.0)
            guard missing.isEmpty else {
                throw LighterCredentialsError(
                    "\(missing.joined(separator: " and ")) \(missing.count == 1 ? "is" : "are") not set: set all three of \(names.joined(separator: ", ")), or none to use the key file"
                )
            }
            return try validated(account: values[0]!, apiKey: values[1]!, key: values[2]!, source: "the environment")
        }
        let path = (home.hasSuffix("/") ? String(home.dropLast()) : home) + "/keys/lighter.json"
        let found: JSONValue?
        do throws(KeyFileError) {
            found = try KeyFile.readObject(path: path, maxBytes: maxFileBytes, expected: expected)
        } catch {
            throw LighterCredentialsError(error.message)
        }
        guard let json = found else { return nil }
        func text(_ name: String) throws(LighterCredentialsError) -> String {
            guard let value = json[name] else { throw LighterCredentialsError("\(path) has no \"\(name)\"; expected \(expected)") }
            if let number = value.int64Value { return String(number) }
            guard let string = value.stringValue, !string.isEmpty else {
                throw LighterCredentialsError("\(path): \"\(name)\" is not a number or a string; expected \(expected)")
            }
            return string
        }
        return try validated(
            account: try text("account_index"), apiKey: try text("api_key_index"), key: try text("private_key"), source: path)
    }

    private static func validated(account: String, apiKey: String, key: String, source: String) throws(LighterCredentialsError)
        -> LighterCredentials
    {
        guard let accountIndex = Int64(account), accountIndex >= 1 else {
            throw LighterCredentialsError(
                "the account index from \(source) is not a whole number ≥ 1 (got \(SafeText.excerpt(Array(account.utf8), limit: 24)))")
        }
        guard let apiKeyIndex = Int32(apiKey), (4...254).contains(apiKeyIndex) else {
            throw LighterCredentialsError(
                "the API key index from \(source) must be 4…254 (0–3 belong to Lighter's own apps and are reset when you re-authorize there; got \(SafeText.excerpt(Array(apiKey.utf8), limit: 24)))"
            )
        }
        guard let privateKey = LighterPrivateKey(hex: key) else {
            throw LighterCredentialsError("the private key from \(source) is not 80 hex digits (with or without 0x)")
        }
        return LighterCredentials(accountIndex: accountIndex, apiKeyIndex: apiKeyIndex, privateKey: privateKey)
    }
}

/// Why Lighter credentials could not be loaded: one line naming the variable or file, never a key.
public struct LighterCredentialsError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
