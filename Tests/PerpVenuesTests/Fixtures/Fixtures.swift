// Small payloads written by hand from the documented shapes (docs/venues.md). Each says which
// shape it follows. Recorded payloads are not copied here: tests read them from ../shared.

import Foundation

enum Fixture {
    // MARK: Binance

    /// Binance error body, docs/venues.md §4 "Errors": `{"code": -1121, "msg": "Invalid symbol."}`
    /// (HTTP 4xx).
    static let binanceInvalidSymbol = #"{"code":-1121,"msg":"Invalid symbol."}"#

    /// Binance spot kline row, docs/venues.md §4: `[openTime ms, "open", "high", "low", "close",
    /// "volume", closeTime ms, "quoteVolume", trades, "takerBuyBase", "takerBuyQuote", "0"]`.
    static func binanceKlineRow(
        openTime: Int64, interval: Int64, open: String, high: String, low: String, close: String, volume: String
    ) -> String {
        #"[\#(openTime),"\#(open)","\#(high)","\#(low)","\#(close)","\#(volume)",\#(openTime + interval - 1),"0.00000000",3,"0.00000000","0.00000000","0"]"#
    }

    /// Binance USD-M funding row, docs/venues.md §5: `{"symbol","fundingTime" (ms),"fundingRate"
    /// (string fraction per interval),"markPrice"}`.
    static func binanceFundingRow(symbol: String, time: Int64, rate: String) -> String {
        #"{"symbol":"\#(symbol)","fundingTime":\#(time),"fundingRate":"\#(rate)","markPrice":"8.46000000"}"#
    }

    // MARK: Lighter

    /// Lighter `orderBookDetails`, docs/venues.md §3, with the margin fractions as strings the
    /// way the documentation example (`docex_GetSymbolDetails.json`) carries them ("Accept both").
    static let lighterOrderBookDetailsStringFractions = """
        {"code":200,"order_book_details":[
          {"symbol":"NMR","market_id":74,"market_type":"perp","status":"active","size_decimals":2,
           "price_decimals":4,"maintenance_margin_fraction":"2000","min_initial_margin_fraction":"3333",
           "default_initial_margin_fraction":"6666","closeout_margin_fraction":"1200",
           "last_trade_price":8.4606,"mark_price":"8.4603","index_price":"8.4611"}
        ],"spot_order_book_details":[]}
        """

    /// Lighter `orderBookDetails`, docs/venues.md §3, for a market with no mark price: the
    /// client must fall back to `last_trade_price`.
    static let lighterOrderBookDetailsNoMark = """
        {"code":200,"order_book_details":[
          {"symbol":"NMR","market_id":74,"maintenance_margin_fraction":2000,"min_initial_margin_fraction":3333,
           "default_initial_margin_fraction":6666,"last_trade_price":8.5}
        ]}
        """

    /// Lighter error envelope, docs/venues.md §7: `{"code":…, "message":…}` with HTTP 400.
    static let lighterInvalidParam = #"{"code":20001,"message":"invalid param "}"#

    /// Lighter `GET /api/v1/fundings` answer, docs/venues.md §1: `{"code":200,"resolution":"1h",
    /// "fundings":[{"timestamp" (s),"value","rate" (unsigned percent),"direction"}]}`.
    static func lighterFundings(_ rows: [(seconds: Int64, rate: String, direction: String)]) -> String {
        let items = rows.map {
            #"{"timestamp":\#($0.seconds),"value":"0.0001","rate":"\#($0.rate)","direction":"\#($0.direction)"}"#
        }
        return #"{"code":200,"resolution":"1h","fundings":["# + items.joined(separator: ",") + "]}"
    }

    // MARK: Numerai

    /// Numerai stake answer, docs/venues.md §6 (numerapi `stake_get` response shape).
    static let numeraiStake = #"{"data":{"v3UserProfile":{"stakeValue":"14.63"}}}"#
    /// Same shape, unstaked model: `stakeValue` is `null` (docs/venues.md §6, numerapi PR #129).
    static let numeraiNullStake = #"{"data":{"v3UserProfile":{"stakeValue":null}}}"#
    /// GraphQL error shape, docs/venues.md §6: `{"errors":[{"message":…}],"data":null}`.
    static let numeraiModelNotFound = #"{"errors":[{"message":"Model not found","path":["v3UserProfile"]}],"data":null}"#
    /// docs/venues.md §6: `data.v3UserProfile == null` also means "model not found".
    static let numeraiNullProfile = #"{"data":{"v3UserProfile":null}}"#
}
