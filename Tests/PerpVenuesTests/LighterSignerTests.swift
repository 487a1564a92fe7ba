import Foundation
import Testing

@testable import PerpVenues

/// Lighter's own signer behind `LighterSigner` (issue 13, decision 0014). The contract tests sign
/// fixed inputs with the real library (`scripts/install-lighter-signer.sh`; `.ci/run` installs
/// it) and compare each transaction field by field with what the library answered when the
/// vectors were recorded (scripts/record-lighter-vectors.py): every field but the signature and
/// the expiry, which it randomises and stamps with the clock. Without the library they are
/// skipped, saying how to install it; the rest run everywhere.
@Suite struct LighterSignerTests {
    static let environment = ProcessInfo.processInfo.environment
    static let home = environment["NMRPERP_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((environment["HOME"] ?? ".") + "/.nmrperp")
    static let libraryPath = LighterLibrarySigner.libraryPath(environment: environment, home: home)
    static let installed = FileManager.default.fileExists(atPath: libraryPath)
    static let skipped: Comment = "Lighter's signer is not installed (bash scripts/install-lighter-signer.sh)"

    static func vectors() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(LighterSignerVectors.json.utf8)) as? [String: Any])
    }

    static func signer(account override: Int64? = nil) throws -> LighterLibrarySigner {
        let document = try vectors()
        let hex = try #require(document["key"] as? String)
        let key = try #require(LighterPrivateKey(hex: hex))
        let account = try override ?? #require(document["account_index"] as? Int64)
        let apiKey = try #require(document["api_key_index"] as? Int)
        let chain = try #require(document["chain_id"] as? Int)
        return try LighterLibrarySigner(
            libraryPath: libraryPath, key: key, accountIndex: account, apiKeyIndex: Int32(apiKey), chainID: Int32(chain))
    }

    /// The keys of a compact JSON object, in the order they are written.
    static func keys(_ json: String) -> [String] {
        let pattern = try! NSRegularExpression(pattern: #""([A-Za-z0-9]+)":"#)
        return pattern.matches(in: json, range: NSRange(json.startIndex..., in: json)).map {
            String(json[Range($0.range(at: 1), in: json)!])
        }
    }

    @Test(.enabled(if: installed, skipped)) func signsWhatTheRecordedVectorsSay() throws {
        let defaultSigner = try Self.signer()
        let defaultAccount = defaultSigner.accountIndex
        let vectors = try #require(try Self.vectors()["vectors"] as? [[String: Any]])
        #expect(vectors.count >= 9)
        for vector in vectors {
            let label = vector["label"] as? String ?? "?"
            let account = vector["account_index"] as? Int64 ?? defaultAccount
            let signer = account == defaultAccount ? defaultSigner : try Self.signer(account: account)
            let arguments = try #require(vector["arguments"] as? [Int64], "\(label)")
            let nonce = try #require(vector["nonce"] as? Int64)
            let signed: Result<LighterSignedTx, LighterSignerError>
            let started = Int64(Date().timeIntervalSince1970 * 1000)
            switch vector["function"] as? String {
            case "SignCreateOrder":
                let order = LighterOrderFields(
                    market: arguments[0], clientOrderIndex: arguments[1], baseAmount: arguments[2], price: arguments[3],
                    isAsk: arguments[4] == 1, orderType: Int32(arguments[5]), timeInForce: Int32(arguments[6]),
                    reduceOnly: arguments[7] == 1,
                    triggerPrice: arguments[8], orderExpiry: arguments[9])
                signed = Result { () throws(LighterSignerError) in try signer.createOrder(order, nonce: nonce) }
            case "SignCancelOrder":
                signed = Result { () throws(LighterSignerError) in
                    try signer.cancelOrder(market: arguments[0], orderIndex: arguments[1], nonce: nonce)
                }
            case "SignCancelAllOrders":
                signed = Result { () throws(LighterSignerError) in
                    try signer.cancelAll(timeInForce: Int32(arguments[0]), time: arguments[1], market: arguments[2], nonce: nonce)
                }
            case "SignUpdateLeverage":
                signed = Result { () throws(LighterSignerError) in
                    try signer.updateLeverage(
                        market: arguments[0], initialMarginFraction: Int32(arguments[1]), marginMode: Int32(arguments[2]), nonce: nonce)
                }
            case "SignUpdateMargin":
                signed = Result { () throws(LighterSignerError) in
                    try signer.updateMargin(market: arguments[0], usdcAmount: arguments[1], direction: Int32(arguments[2]), nonce: nonce)
                }
            case "SignCreatePublicPool":
                signed = Result { () throws(LighterSignerError) in
                    try signer.createPublicPool(
                        operatorFee: arguments[0], initialTotalShares: arguments[1], minOperatorShareRate: arguments[2], nonce: nonce)
                }
            default:
                Issue.record("unknown function in \(label)")
                continue
            }
            if let error = vector["error"] as? String {
                #expect(signed == .failure(.refused(error)), "\(label)")
                continue
            }
            let tx = try signed.get()
            let recorded = try #require(vector["tx_info"] as? String)
            #expect(tx.type == vector["tx_type"] as? Int, "\(label)")
            // Field by field, in the same order, but the signature and the expiry.
            #expect(Self.keys(tx.info) == Self.keys(recorded), "\(label)")
            var mine = try #require(try JSONSerialization.jsonObject(with: Data(tx.info.utf8)) as? [String: Any])
            var theirs = try #require(try JSONSerialization.jsonObject(with: Data(recorded.utf8)) as? [String: Any])
            let signature = try #require(mine.removeValue(forKey: "Sig") as? String)
            let expiry = try #require(mine.removeValue(forKey: "ExpiredAt") as? Int64)
            theirs["Sig"] = nil
            theirs["ExpiredAt"] = nil
            #expect(NSDictionary(dictionary: mine).isEqual(to: theirs), "\(label): \(tx.info) vs \(recorded)")
            #expect(Data(base64Encoded: signature)?.count == 80, "\(label): the signature is 80 bytes")
            let ended = Int64(Date().timeIntervalSince1970 * 1000)
            #expect(expiry - ended >= 598_000 && expiry - started <= 600_500, "\(label): expires 10 min − 1 s after signing")
            #expect(tx.hash.utf8.count == 80 && tx.hash.allSatisfy { $0.isHexDigit && !$0.isUppercase }, "\(label): \(tx.hash)")
        }
    }

    @Test(.enabled(if: installed, skipped)) func anAuthTokenHasItsShape() throws {
        let deadline = Int64(Date().timeIntervalSince1970) + 600
        let token = try Self.signer().authToken(deadline: deadline)
        let parts = token.split(separator: ":")
        #expect(parts.count == 4, "\(token)")
        #expect(parts.dropLast().allSatisfy { Int64($0) != nil })
        #expect(parts.last.map { $0.count == 160 && $0.allSatisfy(\.isHexDigit) } == true)
    }

    @Test func theShippedHeaderIsChecked() throws {
        let declarations = LighterSignerTests.pinnedHeader
        #expect(LighterSignerABI.check(header: declarations).isEmpty)
        // A widened or narrowed argument, a renamed field: refused, naming the function.
        let widened = declarations.replacingOccurrences(of: "int cPrice,", with: "long long int cPrice,")
        #expect(LighterSignerABI.check(header: widened) == ["SignCreateOrder is not declared as 1.1.8 declares it"])
        let renamedField = declarations.replacingOccurrences(of: "char* txHash;", with: "char* hash;")
        #expect(LighterSignerABI.check(header: renamedField) == ["SignedTxResponse is not declared as 1.1.8 declares it"])
        #expect(LighterSignerABI.check(header: "").count == LighterSignerABI.declarations.count)
        if Self.installed {
            let shipped = try String(
                contentsOfFile: (Self.libraryPath as NSString).deletingLastPathComponent + "/" + LighterSignerABI.headerName,
                encoding: .utf8)
            #expect(LighterSignerABI.check(header: shipped).isEmpty, "the installed header differs from 1.1.8")
        }
    }

    /// A library whose header declares something else is never loaded: nothing is signed.
    @Test func aMismatchedHeaderRefusesToSign() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lighter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let library = folder.appendingPathComponent(LighterSignerABI.libraryName).path
        try Data("not a library".utf8).write(to: URL(fileURLWithPath: library))
        try LighterSignerTests.pinnedHeader.replacingOccurrences(of: "int cTriggerPrice,", with: "uint32_t cTriggerPrice,")
            .write(toFile: folder.appendingPathComponent(LighterSignerABI.headerName).path, atomically: true, encoding: .utf8)
        let key = try #require(LighterPrivateKey(hex: String(repeating: "ab", count: 40)))
        #expect(throws: LighterSignerError.abiMismatch(["SignCreateOrder is not declared as 1.1.8 declares it"])) {
            _ = try LighterLibrarySigner(libraryPath: library, key: key, accountIndex: 1, apiKeyIndex: 4, chainID: 304)
        }
        let missing = folder.appendingPathComponent("nothing.so").path
        do {
            _ = try LighterLibrarySigner(libraryPath: missing, key: key, accountIndex: 1, apiKeyIndex: 4, chainID: 304)
            Issue.record("a missing library loaded")
        } catch {
            #expect(error.description.contains("scripts/install-lighter-signer.sh"), "\(error)")
        }
        #expect(throws: LighterSignerError.outOfRange("API key index 255 (0…254)")) {
            _ = try LighterLibrarySigner(libraryPath: missing, key: key, accountIndex: 1, apiKeyIndex: 255, chainID: 304)
        }
    }

    @Test func aPrivateKeyNeverPrints() throws {
        let hex = String(repeating: "c0ffee", count: 13) + "c0"
        let key = try #require(LighterPrivateKey(hex: "0x" + hex))
        var dumped = ""
        dump(key, to: &dumped)
        for text in ["\(key)", String(reflecting: key), dumped, "\([key])"] {
            #expect(!text.contains("c0ffee"), "\(text)")
        }
        for bad in ["", "0x", "0x" + hex + "0", String(hex.dropLast()), hex.replacingOccurrences(of: "c", with: "g")] {
            #expect(LighterPrivateKey(hex: bad) == nil, "\(bad)")
        }
    }

    /// The declarations as the pinned 1.1.8 header writes them (its own line breaks), for the
    /// tests that run without the library.
    static let pinnedHeader = """
        typedef struct {
        \tchar* str;
        \tchar* err;
        } StrOrErr;

        typedef struct {
        \tuint8_t txType;
        \tchar* txInfo;
        \tchar* txHash;
        \tchar* messageToSign;
        \tchar* err;
        } SignedTxResponse;
        extern char* CreateClient(char* cUrl, char* cPrivateKey, int cChainId, int cApiKeyIndex, long long int cAccountIndex);
        extern SignedTxResponse SignCreateOrder(long long int cMarketIndex, long long int cClientOrderIndex, long long int cBaseAmount, int cPrice, int cIsAsk, int cOrderType, int cTimeInForce, int cReduceOnly, int cTriggerPrice, long long int cOrderExpiry, long long int cIntegratorAccountIndex, int cIntegratorTakerFee, int cIntegratorMakerFee, uint8_t cSelfTradeBehaviorMode, uint8_t cSelfTradeEqualityMode, uint8_t cSkipNonce, long long int cNonce, int cApiKeyIndex, long long int cAccountIndex);
        extern SignedTxResponse SignCancelOrder(long long int cMarketIndex, long long int cOrderIndex, uint8_t cSkipNonce, long long int cNonce, int cApiKeyIndex, long long int cAccountIndex);
        extern SignedTxResponse SignCancelAllOrders(int cTimeInForce, long long int cTime, long long int cCancelAllMarketIndex, uint8_t cSkipNonce, long long int cNonce, int cApiKeyIndex, long long int cAccountIndex);
        extern SignedTxResponse SignUpdateLeverage(long long int cMarketIndex, int cInitialMarginFraction, int cMarginMode, uint8_t cSkipNonce, long long int cNonce, int cApiKeyIndex, long long int cAccountIndex);
        extern StrOrErr CreateAuthToken(long long int cDeadline, int cApiKeyIndex, long long int cAccountIndex);
        extern SignedTxResponse SignUpdateMargin(long long int cMarketIndex, long long int cUSDCAmount, int cDirection, uint8_t cSkipNonce, long long int cNonce, int cApiKeyIndex, long long int cAccountIndex);
        extern SignedTxResponse SignCreatePublicPool(long long int cOperatorFee, int cInitialTotalShares, long long int cMinOperatorShareRate, uint8_t cSkipNonce, long long int cNonce, int cApiKeyIndex, long long int cAccountIndex);
        extern void Free(void* ptr);
        """
}
