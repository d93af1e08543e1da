/// The words export records are made of: realistic, multilingual, and with the characters that trip
/// JSON handling (quotes, backslashes, a newline, U+2028, non-BMP emoji). Never empty lists.
enum Vocabulary {
    static let givenNames = [
        "Zoë", "José", "Jürgen", "Søren", "Ngozi", "Wei", "Ana María", "François", "Ólafur", "Małgorzata",
        "Hiroshi", "Aiyana", "Renée", "Siobhán", "Mary-Jane", "D'Arcy",
    ]
    static let familyNames = [
        "Weiß", "Müller", "O'Brien", "Dupré", "山田", "Nguyễn", "Østergaard", "Smith", "García", "Łukasiewicz",
        "日本語 🎉", "Çelik", "Þórsson", "Smith \"Smitty\"", "Jones",
    ]
    static let companies = [
        "Café Zürich GmbH", "Straße & Söhne KG", "株式会社日本語", "Acme \"Best\" Co.", "Back\\slash Ltd",
        "Rocket 🚀 Labs", "Ærø Fisk A/S", "Northwind Traders",
    ]
    static let deletionReasons = ["CustomerRequest", "Duplicate", "Merged", "RetentionPolicy"]
    static let consentTypes = ["EmailMarketing", "SMS", "PhoneCall", "PostalMail", "DataSharing"]
    static let sources = ["Web", "CallCenter", "Mobile App", "Import", "Store POS"]
    static let categories = ["Newsletters", "Offers", "Account Alerts", "Événements", "お知らせ"]
    static let preferenceNames = ["Frequency", "Topic", "Language", "Channel", "QuietHours"]
    static let preferenceValues = [
        "Weekly", "Monthly", "Never", "en-US", "fr-FR", "ja-JP", "22:00–07:00", "Sports & Outdoors",
    ]
    static let channels = ["Email", "SMS", "Push", "Mail"]
    static let comments = [
        "", "Prefers \"morning\" calls", "Path C:\\Users\\export", "First line\nsecond line",
        "Paragraph\u{2028}separator", "Merci beaucoup !", "日本語のコメント", "👍 ok",
    ]
    static let streets = ["Rue de l'Église", "Königsallee", "Main St.", "Øster Allé", "銀座通り", "Calle Mayor"]
    static let secondLines = ["", "Apt 4B", "c/o Reception\nFloor 3", "Bâtiment C", "Suite \"200\""]
    static let cities: [(String, String, String)] = [
        ("Köln", "50667", "DE"), ("Paris", "75004", "FR"), ("東京", "100-0001", "JP"), ("Atlanta", "30301", "US"),
        ("København", "1050", "DK"), ("São Paulo", "01000-000", "BR"), ("Reykjavík", "101", "IS"),
    ]
    static let displayNames = ["Renée", "Zoë", "José", "Ærø", "Grüße", "Chloé 😀", "Plain Name"]
}
