//! Placeholder until the vk parser lands: refuses every response honestly.

use crate::{ParseContext, ParseError, RawPost};
use otklik_model::Platform;

pub fn parse_saved_response(_bytes: &[u8], _ctx: &ParseContext) -> Result<Vec<RawPost>, ParseError> {
    Err(ParseError::new(Platform::Vk, "not supported yet: the vk parser has not landed"))
}
