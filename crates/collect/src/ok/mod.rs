//! Placeholder until the ok parser lands: refuses every response honestly.

use crate::{ParseContext, ParseError, RawPost};
use otklik_model::Platform;

pub fn parse_saved_response(_bytes: &[u8], _ctx: &ParseContext) -> Result<Vec<RawPost>, ParseError> {
    Err(ParseError::new(Platform::Ok, "not supported yet: the ok parser has not landed"))
}
