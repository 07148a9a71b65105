//! Pages of a fake t.me: `/s/<channel>`, a public channel's web preview, shaped like the real one
//! (the markup the Telegram collector reads, with the author, views and date of each message).

/// One message of a channel page.
pub struct TgMessage {
    pub id: u64,
    pub text: String,
    /// RFC 3339, as the page's `<time datetime>` carries it.
    pub at: String,
}

impl TgMessage {
    pub fn new(id: u64, text: impl Into<String>, at: impl Into<String>) -> Self {
        TgMessage { id, text: text.into(), at: at.into() }
    }
}

/// The page of `channel` with `messages`, listed in the order given (t.me lists oldest first).
pub fn channel_page(channel: &str, messages: &[TgMessage]) -> String {
    let blocks: String = messages.iter().map(|m| message_block(channel, m)).collect();
    format!(
        r#"<!DOCTYPE html>
<html>
  <head><meta charset="utf-8"><title>Канал {channel} – Telegram</title></head>
  <body class="widget_frame_base tgme_webpreview_body">
    <main class="tgme_main" data-url="/s/{channel}">
      <div class="tgme_container">
        <section class="tgme_channel_history js-message_history">
{blocks}        </section>
      </div>
    </main>
  </body>
</html>
"#
    )
}

fn message_block(channel: &str, message: &TgMessage) -> String {
    let TgMessage { id, text, at } = message;
    format!(
        r#"<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message js-widget_message" data-post="{channel}/{id}">
  <div class="tgme_widget_message_bubble">
    <div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_owner_name" href="https://t.me/{channel}"><span dir="auto">Канал</span></a></div>
    <div class="tgme_widget_message_text js-message_text" dir="auto">{text}</div>
    <div class="tgme_widget_message_footer compact js-message_footer">
      <div class="tgme_widget_message_info short js-message_info">
        <span class="tgme_widget_message_views">{id}0</span><span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="https://t.me/{channel}/{id}"><time datetime="{at}" class="time">12:00</time></a></span>
      </div>
    </div>
  </div>
</div></div>
"#
    )
}
