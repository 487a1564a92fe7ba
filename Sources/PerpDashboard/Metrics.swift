import PerpEngine
import PerpModel
import Prometheus

extension SessionCatalog {
    /// `/metrics`: every session's equity, exposure, leverage, funding and risk state in
    /// Prometheus' text format, labelled `session="KIND/NAME"`, so existing monitoring can alert
    /// on them (a halted session, a short near liquidation, an unreadable file).
    public func metrics() -> String {
        let registry = PrometheusCollectorRegistry()
        func gauge(_ name: String, _ help: String, _ key: SessionKey, _ value: Double?, extra: [(String, String)] = []) {
            guard let value, value.isFinite else { return }
            registry.makeGauge(
                descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help),
                labels: [("session", key.description)] + extra
            )
            .set(value)
        }
        for key in keys where key.kind != .backtest {
            guard let entry = entries[key] else { continue }
            gauge("nmrperp_session_readable", "1 when the session's file reads, 0 when it does not", key, entry.problem == nil ? 1 : 0)
            gauge("nmrperp_session_running", "1 when a process runs the session", key, Self.running(path: entry.path) == .null ? 0 : 1)
            switch entry.content {
            case .trading(let view):
                guard let replay = view.replay else { continue }
                let session = replay.session
                let last = replay.points.last
                gauge("nmrperp_equity_usd", "Wallet plus unrealised P&L at the last close", key, last?.equity.doubleValue)
                gauge("nmrperp_realised_pnl_usd", "Realised P&L", key, last?.realised.doubleValue)
                gauge("nmrperp_fees_usd", "Fees paid", key, last?.fees.doubleValue)
                gauge("nmrperp_funding_usd", "Funding received (+) or paid (-)", key, last?.funding.doubleValue)
                gauge("nmrperp_position_nmr", "Signed position (+ long, - short)", key, session.engine.position.doubleValue)
                if let mark = session.lastBar?.close, let equity = last?.equity, equity.isPositive {
                    let leverage = session.engine.position.magnitude.doubleValue * mark.doubleValue / equity.doubleValue
                    gauge("nmrperp_leverage_used", "Position notional over equity", key, leverage)
                    gauge("nmrperp_leverage_cap", "Leverage cap of the current regime", key, session.kernel.regime.leverage.doubleValue)
                    gauge("nmrperp_exposure_cap", "Exposure cap of the current regime", key, session.kernel.regime.exposure.doubleValue)
                }
                if let rate = replay.lastFunding {
                    gauge("nmrperp_funding_rate", "Last published funding rate per interval", key, rate.rate.doubleValue)
                }
                for state in ["active", "reducing", "halted"] {
                    gauge(
                        "nmrperp_risk_state", "1 for the risk state the session is in", key, session.kernel.state.name == state ? 1 : 0,
                        extra: [("state", state)])
                }
            case .hedge(let view):
                let status = view.status?.json
                func number(_ field: String) -> Double? { status?[field]?.numericText.flatMap { Double($0) } }
                gauge("nmrperp_hedge_stake_nmr", "NMR staked", key, number("stake_nmr"))
                gauge("nmrperp_hedge_short_nmr", "NMR short on the venue", key, number("short_nmr"))
                gauge("nmrperp_hedge_collateral_usd", "Collateral behind the short", key, number("collateral_usd"))
                gauge("nmrperp_hedge_required_usd", "k·q·P at the current price", key, number("required_collateral_usd"))
                gauge("nmrperp_hedge_liquidation_distance", "Liquidation price over price, minus 1", key, number("liquidation_distance"))
                gauge("nmrperp_hedge_funding_paid_usd", "Funding the short has paid (+) or received (-)", key, number("funding_paid_usd"))
                gauge("nmrperp_hedge_halted", "1 when the hedge is halted", key, view.replay.session.halted == nil ? 0 : 1)
            case .legacyPaper, .none:
                break
            }
        }
        return registry.emitToString()
    }
}
