//! Secret values (a webhook signing key, a bot token): read once from the environment or a file,
//! shown as `[redacted]` by `Debug` and `Display`, and registered with the process-wide
//! [`secrets`](otklik_pipeline::secrets) registry so that no log line or error ever shows them,
//! even when a server echoes one back.

use otklik_pipeline::units::{read_capped, SECRET_FILE_MAX_BYTES};
use std::path::{Path, PathBuf};

pub use otklik_pipeline::secrets::Secret;

/// Reads the secret named by `env` (a variable) or `file` (relative to `base_dir`). The error
/// names the variable or the file, never a value.
pub(crate) fn load(env: Option<&str>, file: Option<&Path>, base_dir: &Path) -> Result<Secret, String> {
    match (env, file) {
        (Some(var), None) => match std::env::var(var) {
            Ok(value) if !value.trim().is_empty() => Ok(Secret::new(value.trim())),
            Ok(_) => Err(format!("environment variable {var} is empty")),
            Err(_) => Err(format!("environment variable {var} is not set")),
        },
        (None, Some(file)) => {
            let path: PathBuf = if file.is_absolute() { file.to_owned() } else { base_dir.join(file) };
            let text = read_capped(&path, SECRET_FILE_MAX_BYTES)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let value = text.trim();
            if value.is_empty() {
                return Err(format!("{} is empty", path.display()));
            }
            Ok(Secret::new(value))
        }
        _ => Err("name exactly one of the variable (…_env) and the file (…_file)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shown() {
        let secret = Secret::new("whsec_c2VjcmV0LXZhbHVlLTEyMzQ1");
        assert_eq!(format!("{secret} {secret:?}"), "[redacted] Secret([redacted])");
        assert_eq!(otklik_pipeline::secrets::redact("x whsec_c2VjcmV0LXZhbHVlLTEyMzQ1"), "x ***");
    }

    #[test]
    fn loads_from_a_file_relative_to_the_config() {
        let dir = std::env::temp_dir().join(format!("otklik-notify-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("s.txt"), "file-secret-abc\n").unwrap();
        let secret = load(None, Some(Path::new("s.txt")), &dir).unwrap();
        assert_eq!(secret.expose(), "file-secret-abc");
        let missing = load(Some("OTKLIK_NOTIFY_TEST_SURELY_UNSET"), None, &dir).unwrap_err();
        assert_eq!(missing, "environment variable OTKLIK_NOTIFY_TEST_SURELY_UNSET is not set");
        assert!(load(None, None, &dir).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
