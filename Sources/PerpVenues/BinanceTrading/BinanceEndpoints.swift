import Foundation

/// Where Binance USD-M trading lives: the REST base and the WebSocket base of the user data
/// stream (Binance USD-M "General Info" and "User Data Streams": `https://fapi.binance.com`,
/// `wss://fstream.binance.com`, streams at `/ws/<listenKey>`).
public struct BinanceEndpoints: Sendable, Equatable {
    public var rest: URL
    /// The stream base, without `/ws`.
    public var webSocket: String
    /// The venue's name for logs and the journal.
    public var name: String

    public init(rest: URL, webSocket: String, name: String) {
        self.rest = rest
        self.webSocket = webSocket
        self.name = name
    }

    public static let environmentKeys = (rest: "NMRPERP_BINANCE_USDM_URL", webSocket: "NMRPERP_BINANCE_USDM_WS_URL")

    // The URL literals below are constants: a failed parse is a programming error caught by
    // the first test run, so they fall back to a harmless loopback URL instead of trapping.
    private static func url(_ text: String) -> URL { URL(string: text) ?? URL(fileURLWithPath: "/") }

    /// Production USD-M futures.
    public static let production = BinanceEndpoints(
        rest: url("https://fapi.binance.com"), webSocket: "wss://fstream.binance.com", name: "binance-usdm")

    /// Binance's futures demo trading ("Mock Trading", which replaced the old
    /// `testnet.binancefuture.com`): REST `demo-fapi.binance.com`, streams
    /// `demo-fstream.binance.com` (NautilusTrader `BINANCE_FUTURES_USD_DEMO_WS_URL`; the older
    /// testnet stream host `fstream.binancefuture.com` is its `…_TESTNET_WS_URL`).
    public static let testnet = BinanceEndpoints(
        rest: url("https://demo-fapi.binance.com"), webSocket: "wss://demo-fstream.binance.com", name: "binance-usdm-testnet")

    /// `base` (production or testnet), each part replaced by `NMRPERP_BINANCE_USDM_URL` /
    /// `NMRPERP_BINANCE_USDM_WS_URL` when set to something that parses.
    public static func fromEnvironment(_ environment: [String: String], base: BinanceEndpoints = .production) -> BinanceEndpoints {
        var endpoints = base
        if let text = environment[environmentKeys.rest], !text.isEmpty, let url = URL(string: text), url.scheme != nil {
            endpoints.rest = url
        }
        if let text = environment[environmentKeys.webSocket], !text.isEmpty, URL(string: text)?.scheme != nil {
            endpoints.webSocket = text.hasSuffix("/") ? String(text.dropLast()) : text
        }
        return endpoints
    }
}
