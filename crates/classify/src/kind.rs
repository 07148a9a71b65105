//! Post kind: complaint, question, gratitude, suggestion or info.
//!
//! Spikes count complaints and questions only, so the cost of a mistake is asymmetric: an
//! administration's «heating season starts on Monday» counted as a heating complaint raises a
//! false alarm in every district at once. Hence the source comes first — an official source's own
//! post is `info` unless it quotes a resident — and wording decides the rest. Most of a town
//! group's feed is not a complaint even when it names a topic: greetings, event listings, news
//! reports and jokes are `info` unless complaint wording is there too, and so is private
//! business (a sale, a job, a lost pet), whose cue also keeps a single weak topic word from
//! tagging the post (see `Classifier::run`). A request to act («прошу», «почините», «заранее
//! спасибо») is complaint wording.
//!
//! Cues are ordinary patterns (see [`crate::pattern`]) compiled into the same automaton as the
//! topic rules, so kind costs no extra pass over the text.

use otklik_model::PostKind;

/// A group of wording cues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cue {
    /// Something is wrong: negation of service, outrage, a demand to act.
    Complaint,
    /// Rhetorical «how long?» that reads as a question but is a complaint.
    Rhetorical,
    Question,
    Gratitude,
    Suggestion,
    /// Wording of announcements and news.
    Announcement,
    /// An official post relaying a resident's message.
    ResidentQuote,
    /// Private business, not a municipal matter: selling, renting, hiring, giving away, lost and
    /// found pets, advertising, looking for a tradesman or a lost friend.
    Private,
    /// Written laughter («ахаха», «ржу»): a joke or chatter, unless complaint wording is there too.
    Laughter,
    /// A fault or a bad state named («яма», «протечка», «грязно», «не горит»): with a topic and
    /// nothing that says otherwise, the short report residents write. Weaker than complaint
    /// wording: it never outweighs gratitude or an announcement.
    Fault,
}

impl Cue {
    pub const ALL: &'static [Cue] =
        &[Cue::Complaint, Cue::Rhetorical, Cue::Question, Cue::Gratitude, Cue::Suggestion, Cue::Announcement, Cue::ResidentQuote, Cue::Private, Cue::Laughter, Cue::Fault];

    pub fn id(self) -> &'static str {
        match self {
            Cue::Complaint => "complaint",
            Cue::Rhetorical => "rhetorical",
            Cue::Question => "question",
            Cue::Gratitude => "gratitude",
            Cue::Suggestion => "suggestion",
            Cue::Announcement => "announcement",
            Cue::ResidentQuote => "resident_quote",
            Cue::Private => "private",
            Cue::Laughter => "laughter",
            Cue::Fault => "fault",
        }
    }

    /// The cue's patterns. Written for the language, general enough for any topic.
    pub fn patterns(self) -> &'static [&'static str] {
        match self {
            Cue::Complaint => &[
                "=нет", "=не ~2 работа*|работ*|горит|горят|убира*|вывоз*|чист*|реагир*|отвеча*|дозвон*|приезжа*|сдела*|ремонт*|включ*|почин*",
                "отсутств*", "жалоб*", "=жалуюсь", "безобраз*", "беспредел*", "=невозможно", "невыносим*", "ужас*", "кошмар*",
                "=примите ~2 мер*", "=принять ~2 мер*", "=разберитесь", "=помогите", "=опять", "=снова", "=никто", "=никак",
                "=до ~1 =сих ~1 =пор", "=сколько ~2 =можно", "=доколе", "сломал*|сломан*", "=неделю|=месяц|=год ~3 =не|=нет",
                "=третий|=второй|=пятый|=четвертый ~1 =день|=месяц|=неделю", "=уже ~2 =день|=дня|=дней|=неделю|=недели|=месяц|=месяца",
                "=холодно", "=течет|=текут|=топит|затопил*", "=грязь", "=вонь|=воняет", "=опасно", "аварийн*", "игнориру*",
                // A request to act is a complaint, and «заранее спасибо» closes a request, not thanks.
                "=прошу|=просим|=просьба|=требую|=требуем|=умоляем",
                "=почините|=уберите|=отремонтируйте|=замените|=устраните|=восстановите|=вывезите|=очистите|=почистите|=покосите|=спилите|=подсыпьте|=заделайте|=засыпьте|=примите|=разберитесь|=обратите|=проверьте|=накажите",
                "=заранее ~1 =спасибо|=благодарю|=благодарна|=благодарен|=благодарим",
            ],
            Cue::Rhetorical => &["=сколько ~2 =можно", "=доколе", "=когда ~2 =это ~1 =закончится|=кончится", "=где ~2 управляющ*|администрац*|власт*"],
            Cue::Question => &[
                "=подскажите", "=скажите", "=не ~1 =подскажете", "=кто ~1 =знает", "=куда ~2 обращ*|=звонить|=жаловаться",
                "=как ~2 =узнать|=записаться|=получить|=оформить", "=будет ~1 =ли", "=будут ~1 =ли", "=можно ~1 =ли",
                "=есть ~1 =ли", "=когда ~3 =будет|=будут|=дадут|=включат|=сделают|=начнут|=уберут|=вывезут|=починят|=отремонтируют",
                "=почему", "=зачем", "=сколько ~2 =стоит", "=интересует ~1 =вопрос",
            ],
            Cue::Gratitude => &[
                "=спасибо", "благодар*", "=выражаю ~2 признательн*", "=молодцы", "=оперативно ~2 =сработали|=отреагировали|=устранили",
                "=наконец-то|=наконец ~3 =сделали|=починили|=отремонтировали|=убрали|=дали|=включили",
            ],
            Cue::Suggestion => &[
                "=предлагаю", "=предлагаем", "=предложение", "=хорошо ~1 =бы", "=было ~1 =бы ~1 =хорошо|=неплохо|=здорово|=правильно",
                "=почему ~1 =бы ~1 =не", "=давайте", "=стоило ~1 =бы", "=можно ~1 =было ~1 =бы", "=не ~1 =мешало ~1 =бы",
            ],
            Cue::Announcement => &[
                "=уважаемые ~2 =жители|=горожане|=абоненты|=потребители|=родители", "=информируем", "=сообщаем", "=информирует",
                "=внимание", "=будет ~1 отключен*|приостановлен*|прекращен*", "=будут ~1 =проводиться|=отключены", "=плановое|=плановые|=планового",
                "=по ~1 =графику", "=объявление", "=анонс", "=приглашаем", "=приглашает", "=состоится", "=стартует|=стартовал",
                "=напоминаем", "=в ~1 =связи ~1 =с ~1 =проведением", "=пресс-служба", "=сообщает", "=прием ~1 =граждан",
                // Greetings, event listings and news reports: the bulk of a town group's feed.
                "=поздравляем|=поздравляю|=поздравил|=поздравили|=желаем", "=с ~1 =днем|=праздником|=юбилеем|=рождеством|=пасхой|=новым",
                "=состоялся|=состоялась|=состоялось|=состоялись|=пройдет|=пройдут|=открылся|=открылась|=открылись",
                "=вход ~1 =свободный|=бесплатный", "=начало ~1 =в", "=билеты", "=афиша", "=регистрация ~1 =до",
                "=задержан|=задержана|=задержали|=разыскивает|=разыскивают|=приговор|=осужден", "=пострадавших|=пострадал|=пострадали|=погиб|=погибли",
                "=прошла|=прошел|=прошли ~1 =ярмарка|=встреча|=выставка|=акция|=конкурс|=фестиваль|=праздник|=день|=турнир|=торжественное|=торжественная|=заседание",
                "=будьте ~1 =бдительны|=внимательны|=осторожны", "=напоминает", "=не ~1 =справился ~2 =управлением", "=попал|=попала|=попали ~1 =в ~1 =дтп|=аварию",
                "=столкнулись|=перевернулась|=перевернулся|=опрокинулся", "=сбил|=сбила ~1 =пешехода|=велосипедиста", "=рейд",
                "=выставка|=ярмарка|=фестиваль|=концерт|=турнир|=соревнования|=экскурсия|=экскурсии|=премьера|=гастроли|=дискотека ~3 =в ~1 =субботу|=воскресенье|=пятницу|=выходные",
            ],
            Cue::ResidentQuote => &[
                "=пишет ~2 жител*|подписчик*|подписчиц*|читател*", "жител* ~3 жалу*|пожалова*|=пишут|=сообщают|обратил*|=просят",
                "поступил* ~2 обращени*|жалоб*", "=обращение ~2 жител*", "=в ~1 =редакцию ~1 обратил*",
                "=нам ~1 =пишут", "=подписчик|=подписчица|=читатель|=читательница ~1 =пишет|=пишут|=жалуется|=рассказывает",
                "=вопрос|=жалоба|=сообщение|=письмо ~1 =от ~1 подписчик*|жител*|читател*", "=анонимно",
            ],
            Cue::Private => &[
                "=продам|=продаю|=продаем|=продается|=продаются|=сдам|=сдаю|=сдаем|=сдается|=сдаются|=сниму|=куплю|=покупаю|=обменяю",
                "=отдам|=отдаю|=отдаем ~3 =даром|=бесплатно|=добрые", "=в ~1 =добрые ~1 =руки",
                "=требуется|=требуются|=приглашаем|=ищем ~3 =на ~1 =работу", "=вакансия|=вакансии", "=ищу ~1 =работу|=подработку",
                "=потерялся|=потерялась|=пропал|=пропала|=убежал|=убежала|=нашли|=найден|=найдена|=найдены ~3 =кот|=кошка|=котенок|=собака|=собаку|=пес|=щенок|=щенка|=кота|=кошку",
                "=хозяин|=хозяева ~1 =отзовитесь", "=помогите ~1 =найти ~1 =кота|=кошку|=собаку|=щенка|=хозяина|=хозяев",
                "скидк*", "подписывайтесь", "=подпишитесь", "=недорого", "=в ~1 =наличии", "=доставка ~2 =по ~1 =городу|=району",
                "=ищу|=посоветуйте|=порекомендуйте ~2 =мастера|=репетитора|=няню|=сиделку|=подругу|=друга|=одноклассников|=одноклассницу|=попутчиков",
                // Jobs by their terms, services by their pitch, lost property by its plea.
                "=з =п", "=зп|=вахта|=вахтой|подработк*|трудоустройств*|=резюме", "=оплата ~2 =ежедневно|=еженедельно|=достойная|=сдельная|=тыс|=руб",
                "=требуется|=требуются ~2 =рабочие|=рабочий|=водители|=водитель|=сотрудники|=работники|=разнорабочие|=грузчики|=продавцы|=продавец|=повар|=охранник|=оператор|=кондуктор|=сторож|=бухгалтер|=менеджер|=курьер|=медсестра|=дворник|=уборщица|=няня",
                "=ищем|=ищу ~1 =кошку|=кота|=собаку|=пса|=щенка|=котенка",
                "=график ~1 =сменный|=2/2|=5/2", "=под ~1 =ключ", "=любой ~1 =сложности", "=опыт ~1 =работы|=более ~2 =лет",
                "=запись|=пишите ~2 =в ~1 =лс|=личку|=директ|=вайбер|=ватсап", "=звоните|=обращайтесь ~2 =по ~1 =телефону|=круглосуточно",
                "=потерян|=потеряна|=потеряно|=потеряны|=утерян|=утеряна|=утеряно|=утеряны", "=нашедшего|=нашедших|=вознаграждение",
                "=ищем ~1 =хозяев|=хозяина|=дом", "=отдам|=отдаю|=отдаем ~3 =собаку|=кошку|=котят|=щенков|=котенка|=щенка",
            ],
            Cue::Laughter => &["ахах*", "хаха*", "хехе*", "=ржу", "ржака*", "=лол"],
            Cue::Fault => &[
                "=яма|=ямы|=ям|=ямой|=ямах|=ямами|=ямку|=ямки|=ямка|=ямищи", "выбоин*", "провал*|просел*|просад*|обрушен*|обвал*",
                "разбит*|поврежд*|разруш*|сломан*|трещин*|=дыра|=дыры|=дырка|=дырки|отвалил*|отвалива*|осыпа*",
                "протеч*|протека*|протек*|подтек*|=течь|=течет|=текут|=капает|=льет", "засор*|=забит|=забита|=забиты",
                "грязн*|=грязь|загрязн*|неубран*|=не ~2 убран*|=не ~2 =убирают|=убирается|=вывозят|=вывозится|=чистят|=чистится",
                "заросл*|=зарос|=заросла|=заросло", "налед*|сосульк*|гололед*|скольз*|=не ~2 =посыпают|=чистят",
                "=лужа|=лужи|=луж|=лужу|затоп*|подтоп*", "=запах|=вонь|вонищ*|воня*|=смрад", "плесен*|=грибок|сырост*",
                "таракан*|=крысы|=крыс|клоп*|=мыши", "=холодные|=холодная|=холодный|=ледяные|=ледяная", "=еле|=чуть ~1 =теплые|=теплая|=теплый",
                "=не ~2 =горит|=горят|=светит|=светят|=закрывается|=закрываются|=открывается|=работают|=ходит|=ходят|=косят",
                "=требуется|=требует|=необходим|=необходима|=необходимо|=нужен|=нужна|=нужно ~2 ремонт*|=замена|уборк*|покос*|=вывоз|спил*|обрез*|=очистка",
                "опасн*", "=брошен|=брошенная|=брошенный|=брошенные|=бросили|=выбросили|свалк*|=свалили", "=висит|=висят|=торчит|=торчат|оборван*|оголен*",
                "перекошен*|покосил*|ржав*", "=мешает|=мешают|=мешая", "=не ~1 =дают|=дали",
                "неисправ*|непригод*|неудовлетвор*|ненадлеж*|несанкционир*|незаконн*|самовольн*|нелегальн*",
                "=не ~2 убран*|вывезен*|очищен*|покошен*|отремонтирован*|восстановлен*|доделан*|оборудован*|устранен*",
                "=не ~1 =происходит|=осуществляется|=проводится|=производится|=выполняется|=выполнен|=выполнены",
                "=упал|=упала|=упало|=упали|повален*|рухнув*|оторвал*|оторван*|сорван*|демонтирован*|=разобраны|=снесли",
                "=куча|=кучи|=кучу|=груда|=груды|валяет*|валяют*|разбросан*|=завалено|=завален|=завалены",
                "=мусор|=мусора|=снег|=снега|=лед|=льда|=вода|=воды ~2 =на|=во|=в|=у|=вдоль|=возле|=около|=под|=стоит|=не",
                "=стоит|=стоят ~1 =вода", "=слабый|=низкий|=плохой ~1 =напор", "=низкая ~1 =температура", "=скачки|=перепады|=скачет",
                "тускл*|перегор*|=темно", "=угроза|=нависает|=нависают|загоражива*|загорожен*|выцвел*", "=вызывает ~1 =неудобства",
                "=выключены|=отключены|=отключена|=отключен|=отключили", "агрессив*|=стая|=стаи|=бросаются|=кусают|покусал*",
                "=требуется|=необходимо|=необходима|=необходим|=нужно|=нужен|=нужна|=целесообразно",
            ],
        }
    }
}

/// Counts of cues that fired, by [`Cue`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CueCounts([u16; Cue::ALL.len()]);

impl CueCounts {
    pub fn add(&mut self, cue: Cue) {
        let i = Cue::ALL.iter().position(|&c| c == cue).unwrap_or(0);
        self.0[i] = self.0[i].saturating_add(1);
    }

    pub fn get(&self, cue: Cue) -> u16 {
        Cue::ALL.iter().position(|&c| c == cue).map_or(0, |i| self.0[i])
    }
}

/// Who wrote the post and where: what the kind depends on besides the wording.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin {
    pub has_topics: bool,
    /// An official source's own post.
    pub official: bool,
    /// The source's own post (`author.is_source`), official or not.
    pub by_source: bool,
}

/// Decides the kind and says why.
pub fn decide(cues: &CueCounts, marks: Marks, origin: Origin) -> (PostKind, &'static str) {
    let Marks { question_mark, laughing_emoji, quotation } = marks;
    let laughing = laughing_emoji || cues.get(Cue::Laughter) > 0;
    let complaint = cues.get(Cue::Complaint);
    let quoted = cues.get(Cue::ResidentQuote) > 0;
    if origin.official && !quoted {
        return (PostKind::Info, "official source's own post");
    }
    // A channel writes news about problems in its own voice; it complains only by relaying a
    // resident, named as such or quoted with complaint wording.
    let relayed = quoted || (quotation && complaint > 0);
    if origin.by_source && !relayed {
        return (PostKind::Info, "the source's own post, with no resident's voice");
    }
    if cues.get(Cue::Private) > 0 && (complaint == 0 || !origin.has_topics) {
        return (PostKind::Info, "private business: a sale, a job, a lost pet, an advert");
    }
    if cues.get(Cue::Gratitude) > complaint {
        return (PostKind::Gratitude, "gratitude wording outweighs complaint wording");
    }
    if cues.get(Cue::Rhetorical) > 0 {
        return (PostKind::Complaint, "rhetorical question");
    }
    if question_mark || cues.get(Cue::Question) > 0 {
        return (PostKind::Question, if question_mark { "question mark" } else { "question wording" });
    }
    if cues.get(Cue::Suggestion) > 0 && complaint == 0 {
        return (PostKind::Suggestion, "suggestion wording");
    }
    // An official post relaying a resident keeps its announcement framing out of the decision.
    if !quoted && cues.get(Cue::Announcement) > 0 && complaint == 0 {
        return (PostKind::Info, "announcement wording");
    }
    if laughing && complaint == 0 {
        return (PostKind::Info, "a joke: laughter and no complaint wording");
    }
    if complaint > 0 || relayed {
        return (PostKind::Complaint, if complaint > 0 { "complaint wording" } else { "a resident's message relayed" });
    }
    if origin.has_topics && cues.get(Cue::Fault) > 0 {
        return (PostKind::Complaint, "a fault named");
    }
    // A topic alone is no complaint: news, greetings and reports name topics all the time.
    if origin.has_topics {
        return (PostKind::Info, "a topic without complaint or question wording");
    }
    (PostKind::Info, "no topic and no complaint wording")
}

/// What the normaliser drops but the kind needs: question marks and laughing emoji.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// A `?` (the full-width one too).
    pub question_mark: bool,
    /// 😂 and its kin: a joke or chatter, unless complaint wording says otherwise.
    pub laughing_emoji: bool,
    /// Quotation marks («», “”, „, "): a channel quoting someone.
    pub quotation: bool,
}

impl Marks {
    pub fn of(original: &str) -> Marks {
        // Laughing faces are U+1F601..U+1F606 (😁…😆), U+1F61C 😜, U+1F639 😹 (F0 9F 98 xx) and U+1F923 🤣
        // (F0 9F A4 A3). One memchr over the text finds every four-byte character.
        let bytes = original.as_bytes();
        let laughing_emoji = memchr::memchr_iter(0xF0, bytes).any(|i| {
            matches!(bytes.get(i + 1..i + 4), Some([0x9F, 0x98, 0x81..=0x86 | 0x9C | 0xB9]) | Some([0x9F, 0xA4, 0xA3]))
        });
        let question_mark = memchr::memchr(b'?', bytes).is_some() || original.contains('？');
        let quotation = memchr::memchr(b'"', bytes).is_some() || original.contains(['«', '“', '„']);
        Marks { question_mark, laughing_emoji, quotation }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(cues: &[Cue]) -> CueCounts {
        let mut c = CueCounts::default();
        for &cue in cues {
            c.add(cue);
        }
        c
    }

    const RESIDENT: Origin = Origin { has_topics: true, official: false, by_source: false };
    const NO_TOPIC: Origin = Origin { has_topics: false, official: false, by_source: false };
    const CHANNEL: Origin = Origin { has_topics: true, official: false, by_source: true };
    const OFFICIAL: Origin = Origin { has_topics: true, official: true, by_source: true };
    const QUESTION: Marks = Marks { question_mark: true, laughing_emoji: false, quotation: false };
    const QUOTE: Marks = Marks { question_mark: false, laughing_emoji: false, quotation: true };

    fn kind(cues: &[Cue], marks: Marks, origin: Origin) -> PostKind {
        decide(&counts(cues), marks, origin).0
    }

    #[test]
    fn official_posts_are_info_unless_quoting_a_resident() {
        assert_eq!(kind(&[Cue::Complaint], Marks::default(), OFFICIAL), PostKind::Info);
        assert_eq!(kind(&[Cue::ResidentQuote, Cue::Complaint, Cue::Announcement], Marks::default(), OFFICIAL), PostKind::Complaint);
    }

    #[test]
    fn a_channels_own_post_needs_a_residents_voice() {
        // «На трассе столкнулись две машины, опасно»: the channel's report, not a complaint.
        assert_eq!(kind(&[Cue::Complaint], Marks::default(), CHANNEL), PostKind::Info);
        assert_eq!(kind(&[], QUESTION, CHANNEL), PostKind::Info);
        assert_eq!(kind(&[Cue::ResidentQuote], Marks::default(), CHANNEL), PostKind::Complaint);
        assert_eq!(kind(&[Cue::Complaint], QUOTE, CHANNEL), PostKind::Complaint);
        assert_eq!(kind(&[], QUOTE, CHANNEL), PostKind::Info);
    }

    #[test]
    fn wording_decides_for_residents() {
        assert_eq!(kind(&[Cue::Gratitude], Marks::default(), RESIDENT), PostKind::Gratitude);
        assert_eq!(kind(&[Cue::Gratitude, Cue::Complaint, Cue::Complaint], Marks::default(), RESIDENT), PostKind::Complaint);
        assert_eq!(kind(&[], QUESTION, RESIDENT), PostKind::Question);
        assert_eq!(kind(&[Cue::Rhetorical], QUESTION, RESIDENT), PostKind::Complaint);
        assert_eq!(kind(&[Cue::Suggestion], Marks::default(), RESIDENT), PostKind::Suggestion);
        assert_eq!(kind(&[Cue::Announcement], Marks::default(), RESIDENT), PostKind::Info);
        assert_eq!(kind(&[Cue::Complaint], Marks::default(), RESIDENT), PostKind::Complaint);
        assert_eq!(kind(&[], Marks::default(), NO_TOPIC), PostKind::Info);
    }

    #[test]
    fn a_topic_alone_is_no_complaint() {
        let (kind, reason) = decide(&counts(&[]), Marks::default(), RESIDENT);
        assert_eq!(kind, PostKind::Info);
        assert_eq!(reason, "a topic without complaint or question wording");
    }

    #[test]
    fn private_business_is_info_unless_it_names_a_municipal_problem() {
        // «Потерялся кот, помогите найти!»: a plea, but not a complaint about the town; «продам
        // радиатор отопления» names a topic and is still an advert.
        assert_eq!(kind(&[Cue::Private], Marks::default(), RESIDENT), PostKind::Info);
        assert_eq!(kind(&[Cue::Private, Cue::Complaint], Marks::default(), NO_TOPIC), PostKind::Info);
        assert_eq!(kind(&[Cue::Private, Cue::Complaint], Marks::default(), RESIDENT), PostKind::Complaint);
    }

    #[test]
    fn quotation_marks_are_seen() {
        for quoted in ["пишут: «нет воды»", "\"нет воды\"", "„нет воды“"] {
            assert!(Marks::of(quoted).quotation, "{quoted}");
        }
        assert!(!Marks::of("нет воды").quotation);
    }

    #[test]
    fn a_joke_is_info_unless_it_complains() {
        let joke = Marks::of("Коты, как всегда, правят миром 😂");
        assert!(joke.laughing_emoji && !joke.question_mark);
        for face in ["😁", "😂", "😃", "😄", "😅", "😆", "😜", "😹", "🤣"] {
            assert!(Marks::of(face).laughing_emoji, "{face}");
        }
        for other in ["🙂", "😡", "🥶", "❄️", "🔥"] {
            assert!(!Marks::of(other).laughing_emoji, "{other}");
        }
        assert_eq!(kind(&[Cue::Laughter], Marks::default(), RESIDENT), PostKind::Info);
        assert_eq!(kind(&[], joke, RESIDENT), PostKind::Info);
        assert_eq!(kind(&[Cue::Complaint], Marks::of("опять нет воды 😂"), RESIDENT), PostKind::Complaint);
    }
}
