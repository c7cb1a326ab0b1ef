/// Fixed reference data: categories and tags exactly as the recorded
/// `tags_by_categories` response has them, and the sports leagues the universe draws from.
public enum Catalog {
    /// Category → tags, `nil` where the exchange maps the category to `null`.
    public static let tagsByCategory: [(category: String, tags: [String]?)] = [
        ("Climate and Weather", ["Snow and rain", "Daily temperature", "Climate change", "Natural disasters", "Hurricanes"]),
        ("Companies", ["KPIs", "Product launches", "Elon Musk", "CEOs", "Layoffs"]),
        ("Crypto", ["BTC", "Hourly", "ETH", "SOL", "Pre-Market", "Dogecoin", "SHIBA"]),
        ("Economics", ["Fed", "Inflation", "Oil and energy", "Growth", "Employment", "Housing", "Mortgages"]),
        ("Elections", nil),
        ("Entertainment", ["Awards", "Movies", "Music", "Music charts", "Television", "Video games", "Rotten Tomatoes", "Live Music"]),
        ("Financials", ["S&P", "Daily", "Nasdaq", "EUR/USD", "Treasuries", "USD/JPY", "WTI"]),
        ("Mentions", nil),
        ("Politics", ["Trump Agenda", "US Elections", "Culture war", "Bills", "Foreign Elections", "SCOTUS & courts", "Immigration", "Cabinet", "Debt ceiling & shutdowns", "Education", "Policy"]),
        ("Science and Technology", ["AI", "Space", "Energy"]),
        ("Social", nil),
        ("Sports", ["Soccer", "Basketball", "Baseball", "Football", "Hockey", "Tennis", "Golf", "UFC", "MMA", "Esports", "NFL", "Cricket", "Motorsport", "Chess"]),
        ("Transportation", nil),
    ]

    /// Relative share of the non-sports series per category.
    static let categoryWeights: [String: Double] = [
        "Climate and Weather": 9, "Companies": 7, "Crypto": 6, "Economics": 9, "Elections": 12,
        "Entertainment": 10, "Financials": 9, "Mentions": 8, "Politics": 15,
        "Science and Technology": 6, "Social": 4, "Transportation": 3,
    ]

    /// Display order of `filters_by_sport`, as recorded. The league-like tags `NFL` and
    /// `UFC` are filters of Football and MMA there, not sports of their own.
    public static let sportOrdering = ["Football", "Basketball", "Hockey", "Soccer", "Tennis", "Golf", "MMA",
                                       "Baseball", "Chess", "Cricket", "Esports", "Motorsport"]

    struct League {
        var code: String          // ticker stem: KX<code>GAME
        var sport: String         // Sports tag and filters_by_sport key
        var extraTag: String?     // a second tag of the same category (NFL, UFC)
        var competition: String
        var title: String
        var gameWord: String      // GAME, MATCH, FIGHT
        var hasTie: Bool
        var teams: [String]
    }

    static let nba = ["ATL", "BOS", "BKN", "CHA", "CHI", "CLE", "DAL", "DEN", "DET", "GSW", "HOU", "IND", "LAC", "LAL", "MEM", "MIA", "MIL", "MIN", "NOP", "NYK", "OKC", "ORL", "PHI", "PHX", "POR", "SAC", "SAS", "TOR", "UTA", "WAS"]
    static let nfl = ["ARI", "ATL", "BAL", "BUF", "CAR", "CHI", "CIN", "CLE", "DAL", "DEN", "DET", "GB", "HOU", "IND", "JAC", "KC", "LV", "LAC", "LA", "MIA", "MIN", "NE", "NO", "NYG", "NYJ", "PHI", "PIT", "SF", "SEA", "TB", "TEN", "WAS"]
    static let epl = ["ARS", "AVL", "BOU", "BRE", "BHA", "CHE", "CRY", "EVE", "FUL", "LIV", "MCI", "MUN", "NEW", "NFO", "TOT", "WHU", "WOL", "BUR", "LEE", "SUN"]
    static let generic = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH", "III", "JJJ", "KKK", "LLL", "MMM", "NNN", "OOO", "PPP"]

    /// Real game series first; the generator synthesises more leagues of the same sports
    /// when a scale needs more than these.
    static let leagues: [League] = [
        League(code: "NBA", sport: "Basketball", extraTag: nil, competition: "Pro Basketball (M)", title: "Professional Basketball Game", gameWord: "GAME", hasTie: false, teams: nba),
        League(code: "NFL", sport: "Football", extraTag: "NFL", competition: "Pro Football", title: "Professional Football Game", gameWord: "GAME", hasTie: false, teams: nfl),
        League(code: "EPL", sport: "Soccer", extraTag: nil, competition: "EPL", title: "English Premier League Game", gameWord: "GAME", hasTie: true, teams: epl),
        League(code: "NHL", sport: "Hockey", extraTag: nil, competition: "Pro Hockey", title: "Professional Hockey Game", gameWord: "GAME", hasTie: false, teams: ["ANA", "BOS", "BUF", "CGY", "CAR", "CHI", "COL", "CBJ", "DAL", "DET", "EDM", "FLA", "LAK", "MIN", "MTL", "NSH", "NJD", "NYI", "NYR", "OTT", "PHI", "PIT", "SJS", "SEA", "STL", "TBL", "TOR", "VAN", "VGK", "WSH", "WPG"]),
        League(code: "MLB", sport: "Baseball", extraTag: nil, competition: "Pro Baseball", title: "Professional Baseball Game", gameWord: "GAME", hasTie: false, teams: ["ARI", "ATL", "BAL", "BOS", "CHC", "CWS", "CIN", "CLE", "COL", "DET", "HOU", "KC", "LAA", "LAD", "MIA", "MIL", "MIN", "NYM", "NYY", "OAK", "PHI", "PIT", "SD", "SF", "SEA", "STL", "TB", "TEX", "TOR", "WSH"]),
        League(code: "LIGUE1", sport: "Soccer", extraTag: nil, competition: "Ligue 1", title: "Ligue 1 – Match (Résultat)", gameWord: "GAME", hasTie: true, teams: ["PSG", "OM", "OL", "LOSC", "ASM", "REN", "NIC", "LEN", "NAN", "STR"]),
        League(code: "LALIGA", sport: "Soccer", extraTag: nil, competition: "La Liga", title: "La Liga Game", gameWord: "GAME", hasTie: true, teams: ["RMA", "BAR", "ATM", "SEV", "BET", "RSO", "VIL", "ATH", "VAL", "GIR"]),
        League(code: "SERIEA", sport: "Soccer", extraTag: nil, competition: "Serie A", title: "Serie A Game", gameWord: "GAME", hasTie: true, teams: ["INT", "MIL", "JUV", "NAP", "ROM", "LAZ", "ATA", "FIO", "BOL", "TOR"]),
        League(code: "UCL", sport: "Soccer", extraTag: nil, competition: "UEFA Champions League", title: "Champions League Game ⚽", gameWord: "GAME", hasTie: true, teams: epl),
        League(code: "NCAAMB", sport: "Basketball", extraTag: nil, competition: "College Basketball (M)", title: "Men's College Basketball Game", gameWord: "GAME", hasTie: false, teams: ["DUKE", "UNC", "UK", "KU", "UCLA", "GONZ", "ARIZ", "HOU", "PUR", "UCONN"]),
        League(code: "ATP", sport: "Tennis", extraTag: nil, competition: "ATP", title: "ATP Tennis Match", gameWord: "MATCH", hasTie: false, teams: ["SIN", "ALC", "DJO", "ZVE", "MED", "RUU", "FRI", "DEM", "RUN", "TSI"]),
        League(code: "UFC", sport: "MMA", extraTag: "UFC", competition: "UFC", title: "UFC Fight", gameWord: "FIGHT", hasTie: false, teams: ["JON", "ASP", "PER", "ANK", "MAK", "TOP", "PAN", "ORT", "VOL", "HOL"]),
        League(code: "CS2", sport: "Esports", extraTag: nil, competition: "CS2", title: "Counter-Strike 2 Game", gameWord: "GAME", hasTie: false, teams: ["NAVI", "FAZE", "G2", "VIT", "SPIR", "MOUZ", "LIQ", "AST"]),
        League(code: "WPL", sport: "Cricket", extraTag: nil, competition: "Women's Premier League", title: "Women's Premier League Cricket", gameWord: "GAME", hasTie: false, teams: ["MI", "DC", "RCB", "GG", "UPW"]),
        League(code: "EUROLEAGUE", sport: "Basketball", extraTag: nil, competition: "Euroleague", title: "Euroleague Game", gameWord: "GAME", hasTie: false, teams: ["RMB", "FCB", "OLY", "PAO", "FEN", "EFE", "MAC", "ZAL"]),
        League(code: "WNBA", sport: "Basketball", extraTag: nil, competition: "Pro Basketball (W)", title: "Women's Professional Basketball Game", gameWord: "GAME", hasTie: false, teams: ["LVA", "NYL", "SEA", "MIN", "CON", "CHI", "IND", "PHO"]),
    ]

    /// Sports futures/awards stems (not games).
    static let sportsFutures: [(stem: String, sport: String, competition: String, scope: String, title: String)] = [
        ("NBA", "Basketball", "Pro Basketball (M)", "Futures", "Pro Basketball Champion"),
        ("NBAMVP", "Basketball", "Pro Basketball (M)", "Awards", "NBA MVP"),
        ("SB", "Football", "Pro Football", "Futures", "Super Bowl Champion"),
        ("NFLMVP", "Football", "Pro Football", "Awards", "NFL MVP"),
        ("MLBWS", "Baseball", "Pro Baseball", "Futures", "World Series Champion"),
        ("NHLCUP", "Hockey", "Pro Hockey", "Futures", "Stanley Cup Champion"),
        ("EPLTOP4", "Soccer", "EPL", "Futures", "Premier League Top 4"),
        ("UCLWIN", "Soccer", "UEFA Champions League", "Futures", "Champions League Winner"),
        ("MASTERS", "Golf", "The Masters", "Futures", "Masters Tournament Winner"),
        ("PGATOUR", "Golf", "PGA Tour", "Futures", "PGA Tour Event Winner"),
        ("F1", "Motorsport", "Formula 1", "Futures", "Formula 1 Grand Prix Winner"),
        ("F1DRIVERS", "Motorsport", "Formula 1", "Futures", "F1 Drivers' Championship"),
        ("WCC", "Chess", "World Chess Championship", "Futures", "World Chess Champion ♟️"),
        ("WIMBLEDON", "Tennis", "Wimbledon", "Futures", "Wimbledon Champion"),
        ("UFCTITLE", "MMA", "UFC", "Futures", "UFC Title Holder"),
        ("T20WC", "Cricket", "Men's T20 World Cup", "Futures", "Men's T20 World Cup Winner"),
        ("LOLWORLDS", "Esports", "League of Legends", "Futures", "League of Legends Worlds Winner"),
    ]

    static let futureScopes = ["WINS", "DIV", "CONF", "ROTY", "DPOY", "LEADER", "DRAFT", "TOP", "RELEG", "CUT", "H2H", "PROPS"]

    /// Ticker stems per non-sports category; the generator adds suffixes for more series.
    static let stems: [String: [String]] = [
        "Climate and Weather": ["HIGHNY", "HIGHCHI", "HIGHLAX", "HIGHMIA", "HIGHAUS", "RAINNYC", "SNOWNYC", "HURSAV", "TORNADO", "ARCTICICE", "CO2", "HEATWAVE"],
        "Companies": ["TSLADEL", "APPLEEVENT", "NVDAREV", "CEOOUT", "LAYOFFS", "IPO", "MSFTKPI", "AMZNPRIME"],
        "Crypto": ["BTC", "ETH", "ETHD", "SOL", "SOLD", "DOGE", "SHIBA", "XRP", "BTCMAX", "BTCMIN"],
        "Economics": ["FED", "CPI", "CPIYOY", "GDP", "PAYROLLS", "JOBLESS", "U3", "MORTGAGE", "HOUSESTARTS", "GASPRICE"],
        "Elections": ["PRES", "SENATE", "HOUSE", "GOV", "MAYORNYC", "PRIMARY", "TURNOUT", "ECVOTES"],
        "Entertainment": ["OSCARS", "GRAMMY", "EMMY", "BOXOFFICE", "RT", "SPOTIFY", "BILLBOARD", "NETFLIX", "GOTY", "TOUR"],
        "Financials": ["INX", "INXD", "NASDAQ100", "EURUSD", "USDJPY", "WTI", "TNOTE", "GOLD", "VIX"],
        "Mentions": ["MENTION", "SAYWORD", "SOTUMENTION", "PRESSMENTION", "EARNINGSMENTION"],
        "Politics": ["SCOTUS", "EO", "BILLPASS", "CABINET", "SHUTDOWN", "DEBTCEIL", "TARIFF", "IMMIG", "APPROVAL", "PARDON"],
        "Science and Technology": ["AILEADER", "SPACEX", "STARSHIP", "LLM", "FUSION", "MARS", "QUANTUM"],
        "Social": ["TWITTER", "FOLLOWERS", "TIKTOK", "VIRAL", "YOUTUBE"],
        "Transportation": ["TSA", "FLIGHTS", "EVSALES", "AIRDELAY"],
    ]

    /// Titles with unicode the pipeline must carry unchanged.
    static let unicodeTitles = [
        "Température maximale à Paris", "Will Bitcoin hit a new high? 🚀", "S&P 500 close – daily range",
        "Élection présidentielle: premier tour", "Fed decision — rate cut?", "Zürich snowfall ❄️",
    ]
}
