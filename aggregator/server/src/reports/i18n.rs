//! The words of reports, alerts and the unsubscribe page, in the dashboard's languages, and
//! how each writes numbers and dates. `{name}` marks where a value goes.

use chrono::{Datelike, NaiveDate};

/// One language's words.
#[derive(Debug)]
pub struct Words {
    /// Its code.
    pub code: &'static str,
    /// Report titles: daily, weekly, monthly.
    pub titles: [&'static str; 3],
    /// Subject of a report: `{title}`, `{domain}`, `{visitors}`.
    pub report_subject: &'static str,
    /// Visitors, visits, pageviews, bounce rate, visit duration.
    pub metrics: [&'static str; 5],
    /// "compared with {period}".
    pub compared_with: &'static str,
    /// When the previous period had nothing to compare with.
    pub no_comparison: &'static str,
    /// Top pages, top sources, goals.
    pub lists: [&'static str; 3],
    /// A visit without a source.
    pub direct: &'static str,
    /// "Conversions" (the goals list's number).
    pub conversions: &'static str,
    /// The link to the dashboard.
    pub open_dashboard: &'static str,
    /// Footer: `{email}`, `{domain}`.
    pub footer: &'static str,
    /// The unsubscribe link's text.
    pub unsubscribe: &'static str,
    /// Nothing happened in the period.
    pub no_data: &'static str,
    /// Subject of a visitors-above alert: `{domain}`, `{value}`, `{threshold}`.
    pub above_subject: &'static str,
    /// Its body: `{domain}`, `{value}`, `{threshold}`.
    pub above_body: &'static str,
    /// Subject of a traffic-drop alert: `{domain}`, `{date}`, `{percent}`.
    pub drop_subject: &'static str,
    /// Its body: `{domain}`, `{date}`, `{value}`, `{baseline}`, `{percent}`, `{threshold}`.
    pub drop_body: &'static str,
    /// The alert footer: `{email}`, `{domain}`.
    pub alert_footer: &'static str,
    /// Unsubscribe page: title.
    pub page_title: &'static str,
    /// Its question for a report: `{domain}`.
    pub page_question_report: &'static str,
    /// Its question for an alert: `{domain}`.
    pub page_question_alert: &'static str,
    /// Its button.
    pub page_button: &'static str,
    /// After: `{domain}`.
    pub page_done: &'static str,
    /// A link that opens nothing.
    pub page_unknown: &'static str,
    /// Month names.
    pub months: [&'static str; 12],
    /// A date: `{day}`, `{month}`, `{year}`.
    pub date: &'static str,
    /// Thousands separator.
    pub thousands: &'static str,
    /// Decimal separator.
    pub decimal: &'static str,
    /// A percentage: `{n}`.
    pub percent: &'static str,
}

const EN: Words = Words {
    code: "en",
    titles: ["Daily report", "Weekly report", "Monthly report"],
    report_subject: "{title} for {domain}: {visitors} visitors",
    metrics: ["Visitors", "Visits", "Pageviews", "Bounce rate", "Visit duration"],
    compared_with: "compared with {period}",
    no_comparison: "no data before",
    lists: ["Top pages", "Top sources", "Goals"],
    direct: "Direct / None",
    conversions: "Conversions",
    open_dashboard: "Open the dashboard",
    footer: "You receive this report because {email} was added as a recipient of {domain}'s reports in Hitkeep.",
    unsubscribe: "Unsubscribe",
    no_data: "No visits in this period.",
    above_subject: "{domain}: {value} visitors right now",
    above_body: "{domain} has {value} visitors right now (in the last five minutes), above your alert's threshold of {threshold}. You will get no more of these until the number has gone down and comes back.",
    drop_subject: "{domain}: traffic on {date} was {percent} of the usual",
    drop_body: "{domain} had {value} visitors on {date}, {percent} of a usual day like it ({baseline}: the median of the same weekday in the four weeks before). Your alert's threshold is {threshold}. You will get no more of these until traffic is back to normal and drops again.",
    alert_footer: "You receive this alert because {email} was added to {domain}'s alerts in Hitkeep.",
    page_title: "Unsubscribe",
    page_question_report: "Stop sending this report about {domain} to this address?",
    page_question_alert: "Stop sending this alert about {domain} to this address?",
    page_button: "Unsubscribe",
    page_done: "Done: no more of these e-mails about {domain} will be sent to this address.",
    page_unknown: "This link is not valid (any more). If you still receive e-mails, use the link of the latest one.",
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    date: "{day} {month} {year}",
    thousands: ",",
    decimal: ".",
    percent: "{n}%",
};

const DE: Words = Words {
    code: "de",
    titles: ["Tagesbericht", "Wochenbericht", "Monatsbericht"],
    report_subject: "{title} für {domain}: {visitors} Besucher",
    metrics: ["Besucher", "Besuche", "Seitenaufrufe", "Absprungrate", "Besuchsdauer"],
    compared_with: "im Vergleich zu {period}",
    no_comparison: "keine Daten davor",
    lists: ["Top-Seiten", "Top-Quellen", "Ziele"],
    direct: "Direkt / Keine",
    conversions: "Conversions",
    open_dashboard: "Dashboard öffnen",
    footer: "Sie erhalten diesen Bericht, weil {email} als Empfänger der Berichte von {domain} in Hitkeep eingetragen wurde.",
    unsubscribe: "Abbestellen",
    no_data: "Keine Besuche in diesem Zeitraum.",
    above_subject: "{domain}: gerade {value} Besucher",
    above_body: "{domain} hat gerade {value} Besucher (in den letzten fünf Minuten), mehr als der Schwellenwert Ihrer Benachrichtigung von {threshold}. Sie erhalten keine weitere, bis die Zahl gesunken ist und wieder steigt.",
    drop_subject: "{domain}: der Verkehr am {date} lag bei {percent} des Üblichen",
    drop_body: "{domain} hatte am {date} {value} Besucher, {percent} eines üblichen Tages dieser Art ({baseline}: der Median desselben Wochentags der vier Wochen davor). Der Schwellenwert Ihrer Benachrichtigung ist {threshold}. Sie erhalten keine weitere, bis der Verkehr wieder normal ist und erneut fällt.",
    alert_footer: "Sie erhalten diese Benachrichtigung, weil {email} bei den Benachrichtigungen von {domain} in Hitkeep eingetragen wurde.",
    page_title: "Abbestellen",
    page_question_report: "Diesen Bericht über {domain} nicht mehr an diese Adresse senden?",
    page_question_alert: "Diese Benachrichtigung über {domain} nicht mehr an diese Adresse senden?",
    page_button: "Abbestellen",
    page_done: "Erledigt: An diese Adresse werden keine solchen E-Mails über {domain} mehr gesendet.",
    page_unknown: "Dieser Link ist nicht (mehr) gültig. Falls Sie weiter E-Mails erhalten, nutzen Sie den Link der neuesten.",
    months: [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
    date: "{day}. {month} {year}",
    thousands: ".",
    decimal: ",",
    percent: "{n} %",
};

const ES: Words = Words {
    code: "es",
    titles: ["Informe diario", "Informe semanal", "Informe mensual"],
    report_subject: "{title} de {domain}: {visitors} visitantes",
    metrics: ["Visitantes", "Visitas", "Páginas vistas", "Tasa de rebote", "Duración de la visita"],
    compared_with: "comparado con {period}",
    no_comparison: "sin datos anteriores",
    lists: ["Páginas principales", "Fuentes principales", "Objetivos"],
    direct: "Directo / Ninguno",
    conversions: "Conversiones",
    open_dashboard: "Abrir el panel",
    footer: "Recibe este informe porque {email} se añadió como destinatario de los informes de {domain} en Hitkeep.",
    unsubscribe: "Darse de baja",
    no_data: "No hubo visitas en este periodo.",
    above_subject: "{domain}: {value} visitantes ahora mismo",
    above_body: "{domain} tiene {value} visitantes ahora mismo (en los últimos cinco minutos), por encima del umbral de su alerta, {threshold}. No recibirá otra hasta que la cifra baje y vuelva a subir.",
    drop_subject: "{domain}: el tráfico del {date} fue el {percent} de lo habitual",
    drop_body: "{domain} tuvo {value} visitantes el {date}, el {percent} de un día habitual como ese ({baseline}: la mediana del mismo día de la semana en las cuatro semanas anteriores). El umbral de su alerta es {threshold}. No recibirá otra hasta que el tráfico vuelva a la normalidad y caiga de nuevo.",
    alert_footer: "Recibe esta alerta porque {email} se añadió a las alertas de {domain} en Hitkeep.",
    page_title: "Darse de baja",
    page_question_report: "¿Dejar de enviar este informe sobre {domain} a esta dirección?",
    page_question_alert: "¿Dejar de enviar esta alerta sobre {domain} a esta dirección?",
    page_button: "Darse de baja",
    page_done: "Hecho: no se enviarán más correos de este tipo sobre {domain} a esta dirección.",
    page_unknown: "Este enlace no es válido (ya). Si sigue recibiendo correos, use el enlace del más reciente.",
    months: [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    date: "{day} de {month} de {year}",
    thousands: ".",
    decimal: ",",
    percent: "{n} %",
};

const FR: Words = Words {
    code: "fr",
    titles: ["Rapport quotidien", "Rapport hebdomadaire", "Rapport mensuel"],
    report_subject: "{title} pour {domain} : {visitors} visiteurs",
    metrics: ["Visiteurs", "Visites", "Pages vues", "Taux de rebond", "Durée de visite"],
    compared_with: "par rapport à {period}",
    no_comparison: "pas de données avant",
    lists: ["Pages principales", "Sources principales", "Objectifs"],
    direct: "Direct / Aucune",
    conversions: "Conversions",
    open_dashboard: "Ouvrir le tableau de bord",
    footer: "Vous recevez ce rapport parce que {email} a été ajouté aux destinataires des rapports de {domain} dans Hitkeep.",
    unsubscribe: "Se désabonner",
    no_data: "Aucune visite pendant cette période.",
    above_subject: "{domain} : {value} visiteurs en ce moment",
    above_body: "{domain} a {value} visiteurs en ce moment (ces cinq dernières minutes), au-dessus du seuil de votre alerte, {threshold}. Vous n'en recevrez pas d'autre tant que le nombre n'aura pas baissé puis remonté.",
    drop_subject: "{domain} : le trafic du {date} était à {percent} de l'habitude",
    drop_body: "{domain} a eu {value} visiteurs le {date}, soit {percent} d'une journée habituelle comparable ({baseline} : la médiane du même jour de la semaine sur les quatre semaines précédentes). Le seuil de votre alerte est {threshold}. Vous n'en recevrez pas d'autre tant que le trafic ne sera pas revenu à la normale puis retombé.",
    alert_footer: "Vous recevez cette alerte parce que {email} a été ajouté aux alertes de {domain} dans Hitkeep.",
    page_title: "Se désabonner",
    page_question_report: "Ne plus envoyer ce rapport sur {domain} à cette adresse ?",
    page_question_alert: "Ne plus envoyer cette alerte sur {domain} à cette adresse ?",
    page_button: "Se désabonner",
    page_done: "C'est fait : plus aucun e-mail de ce type sur {domain} ne sera envoyé à cette adresse.",
    page_unknown: "Ce lien n'est pas (ou plus) valide. Si vous recevez encore des e-mails, utilisez le lien du plus récent.",
    months: [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    date: "{day} {month} {year}",
    thousands: "\u{202f}",
    decimal: ",",
    percent: "{n}\u{a0}%",
};

const IT: Words = Words {
    code: "it",
    titles: ["Report giornaliero", "Report settimanale", "Report mensile"],
    report_subject: "{title} per {domain}: {visitors} visitatori",
    metrics: ["Visitatori", "Visite", "Pagine viste", "Frequenza di rimbalzo", "Durata della visita"],
    compared_with: "rispetto a {period}",
    no_comparison: "nessun dato prima",
    lists: ["Pagine principali", "Fonti principali", "Obiettivi"],
    direct: "Diretto / Nessuna",
    conversions: "Conversioni",
    open_dashboard: "Apri la dashboard",
    footer: "Ricevi questo report perché {email} è stato aggiunto ai destinatari dei report di {domain} in Hitkeep.",
    unsubscribe: "Annulla l'iscrizione",
    no_data: "Nessuna visita in questo periodo.",
    above_subject: "{domain}: {value} visitatori in questo momento",
    above_body: "{domain} ha {value} visitatori in questo momento (negli ultimi cinque minuti), sopra la soglia del tuo avviso, {threshold}. Non ne riceverai altri finché il numero non sarà sceso e poi risalito.",
    drop_subject: "{domain}: il traffico del {date} è stato il {percent} del solito",
    drop_body: "{domain} ha avuto {value} visitatori il {date}, il {percent} di un giorno simile ({baseline}: la mediana dello stesso giorno della settimana nelle quattro settimane precedenti). La soglia del tuo avviso è {threshold}. Non ne riceverai altri finché il traffico non sarà tornato normale e sceso di nuovo.",
    alert_footer: "Ricevi questo avviso perché {email} è stato aggiunto agli avvisi di {domain} in Hitkeep.",
    page_title: "Annulla l'iscrizione",
    page_question_report: "Non inviare più questo report su {domain} a questo indirizzo?",
    page_question_alert: "Non inviare più questo avviso su {domain} a questo indirizzo?",
    page_button: "Annulla l'iscrizione",
    page_done: "Fatto: nessun'altra e-mail di questo tipo su {domain} sarà inviata a questo indirizzo.",
    page_unknown: "Questo link non è (più) valido. Se ricevi ancora e-mail, usa il link della più recente.",
    months: [
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ],
    date: "{day} {month} {year}",
    thousands: ".",
    decimal: ",",
    percent: "{n}%",
};

/// The words of `code`, English for a language this build does not write.
pub fn words(code: &str) -> &'static Words {
    match code {
        "de" => &DE,
        "es" => &ES,
        "fr" => &FR,
        "it" => &IT,
        _ => &EN,
    }
}

/// Fills `{name}` places in `template`.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

impl Words {
    /// A whole number with the language's thousands separator.
    pub fn integer(&self, n: f64) -> String {
        let n = n.round();
        let digits = format!("{}", n.abs() as u64);
        let mut out = String::new();
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push_str(self.thousands);
            }
            out.push(digit);
        }
        if n < 0.0 { format!("-{out}") } else { out }
    }

    /// A percentage with at most one decimal (`45%`, `45,5 %`).
    pub fn percent(&self, n: f64) -> String {
        let rounded = (n * 10.0).round() / 10.0;
        let text = if rounded.fract() == 0.0 {
            self.integer(rounded)
        } else {
            format!(
                "{}{}{}",
                self.integer(rounded.trunc()),
                self.decimal,
                ((rounded.fract().abs()) * 10.0).round() as u8
            )
        };
        fill(self.percent, &[("n", &text)])
    }

    /// A change in percent with its sign (`+12%`, `−3 %`).
    pub fn change(&self, n: f64) -> String {
        let text = self.percent(n.abs());
        if n.round() > 0.0 {
            format!("+{text}")
        } else if n.round() < 0.0 {
            format!("\u{2212}{text}")
        } else {
            text
        }
    }

    /// A duration in seconds (`2m 05s`).
    pub fn duration(&self, seconds: f64) -> String {
        let seconds = seconds.max(0.0).round() as u64;
        let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        if h > 0 { format!("{h}h {m:02}m {s:02}s") } else { format!("{m}m {s:02}s") }
    }

    /// A date (`7 December 2026`, `7. Dezember 2026`).
    pub fn date(&self, day: NaiveDate) -> String {
        fill(
            self.date,
            &[
                ("day", &day.day().to_string()),
                ("month", self.months[day.month0() as usize]),
                ("year", &day.year().to_string()),
            ],
        )
    }

    /// A range of days, both included (`30 November 2026 – 6 December 2026`); one day alone.
    pub fn range(&self, first: NaiveDate, last: NaiveDate) -> String {
        if first == last {
            self.date(first)
        } else {
            format!("{} \u{2013} {}", self.date(first), self.date(last))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_dates_are_written_as_each_language_does() {
        assert_eq!(words("en").integer(1_234_567.0), "1,234,567");
        assert_eq!(words("de").integer(1_234.0), "1.234");
        assert_eq!(words("fr").integer(1_234.0), "1\u{202f}234");
        assert_eq!(words("en").integer(999.0), "999");
        assert_eq!(words("en").percent(45.0), "45%");
        assert_eq!(words("de").percent(45.54), "45,5 %");
        assert_eq!(words("fr").percent(7.0), "7\u{a0}%");
        assert_eq!(words("en").change(12.4), "+12.4%");
        assert_eq!(words("en").change(-3.0), "\u{2212}3%");
        assert_eq!(words("en").duration(125.0), "2m 05s");
        assert_eq!(words("en").duration(3_725.0), "1h 02m 05s");
        let day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(words("en").date(day), "7 December 2026");
        assert_eq!(words("de").date(day), "7. Dezember 2026");
        assert_eq!(words("es").date(day), "7 de diciembre de 2026");
        assert_eq!(words("xx").code, "en");
    }

    #[test]
    fn every_language_fills_the_same_places() {
        for code in hitkeep_store::MAIL_LANGUAGES {
            let words = words(code);
            assert_eq!(words.code, code);
            for (template, places) in [
                (words.report_subject, &["{title}", "{domain}", "{visitors}"][..]),
                (words.footer, &["{email}", "{domain}"]),
                (words.above_subject, &["{domain}", "{value}"]),
                (words.above_body, &["{domain}", "{value}", "{threshold}"]),
                (words.drop_subject, &["{domain}", "{date}", "{percent}"]),
                (
                    words.drop_body,
                    &["{domain}", "{date}", "{value}", "{baseline}", "{percent}", "{threshold}"],
                ),
                (words.alert_footer, &["{email}", "{domain}"]),
                (words.page_question_report, &["{domain}"]),
                (words.page_done, &["{domain}"]),
                (words.compared_with, &["{period}"]),
            ] {
                for place in places {
                    assert!(template.contains(place), "{code}: {template:?} lacks {place}");
                }
            }
        }
    }
}
