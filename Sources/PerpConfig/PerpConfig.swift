/// The bot's configuration file (YAML) as the library reads it, so paper trading, live trading
/// and the dashboard load one file the same way (issue 12, "Shared pieces").
public enum PerpConfig {}
