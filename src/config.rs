//! Settings: the TOML file (`--config`, `CAB_CONFIG`, or the platform config folder), with the
//! environment (`CAB_USER`, `CAB_ROLES`, `CAB_STORE`) taking precedence where it speaks.
//! Every setting is shown in config.example.toml. Settings are typed when the file is parsed
//! (a theme, a colour, a role), so every command refuses a bad file at load time; what the
//! front ends make of them (the console's theme, the server's users) is theirs.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::engine::{Actor, Invalid, Policy, Role, Thresholds};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the config file {} is not valid: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The store file; `--store` and `CAB_STORE` override it.
    pub store: Option<PathBuf>,
    #[serde(default)]
    pub identity: IdentityConfig,
    #[serde(default)]
    pub thresholds: ThresholdsConfig,
    #[serde(default)]
    pub promotion: PromotionConfig,
    #[serde(default)]
    pub console: ConsoleConfig,
    #[serde(default)]
    pub remote: RemoteConfig,
    #[serde(default)]
    pub server: ServerConfig,
    /// `[[webhooks]]`: receivers of signed notifications (SPEC section 7).
    #[serde(default)]
    pub webhooks: Vec<crate::notify::Webhook>,
}

/// The server a client uses instead of a local store; `--remote`/`CAB_REMOTE` and
/// `--token`/`CAB_TOKEN` override these.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteConfig {
    pub url: Option<String>,
    pub token: Option<String>,
}

/// `cab serve`: where it listens, how many connections it holds open at once, and who may
/// use it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: Option<String>,
    /// Connections open at once; beyond it the one idle the longest is closed, or the newcomer
    /// waits. Default 1024, lowered to fit the process's open-file limit.
    pub max_connections: Option<usize>,
    #[serde(default)]
    pub users: Vec<ServerUser>,
}

impl ServerConfig {
    fn check(&self) -> Result<(), String> {
        match self.max_connections {
            Some(0) => Err("[server] max_connections must be at least 1".to_string()),
            _ => Ok(()),
        }
    }
}

/// One user of a server: roles, and the SHA-256 (lowercase hex) of their token, never the token.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "ServerUserEntry")]
pub struct ServerUser {
    pub name: String,
    pub roles: Vec<Role>,
    pub token_sha256: String,
}

/// A `[[server.users]]` entry as written, so that a bad role is refused with the user's name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerUserEntry {
    name: String,
    #[serde(default)]
    roles: Vec<String>,
    token_sha256: String,
}

impl TryFrom<ServerUserEntry> for ServerUser {
    type Error = String;
    fn try_from(entry: ServerUserEntry) -> Result<Self, String> {
        let roles = entry
            .roles
            .iter()
            .map(|r| r.parse::<Role>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("[[server.users]] {:?}: {e}", entry.name))?;
        Ok(ServerUser {
            name: entry.name,
            roles,
            token_sha256: entry.token_sha256,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Open the console read-only, as `--read-only` does.
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub theme: ThemeName,
    #[serde(default)]
    pub colors: ColorSettings,
}

/// `[console] theme`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum ThemeName {
    /// Colours.
    #[default]
    Default,
    /// Bold, dim and reverse only.
    Monochrome,
}

impl TryFrom<String> for ThemeName {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        match name.as_str() {
            "default" => Ok(ThemeName::Default),
            "monochrome" => Ok(ThemeName::Monochrome),
            other => Err(format!(
                "unknown console theme {other:?}; themes are \"default\" and \"monochrome\""
            )),
        }
    }
}

/// `[console.colors]`: single colours of the default theme, each optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColorSettings {
    pub auto_approved: Option<Colour>,
    pub manual_review: Option<Colour>,
    pub exception_required: Option<Colour>,
    pub approved: Option<Colour>,
    pub rejected: Option<Colour>,
    pub urgent: Option<Colour>,
    /// Titles, the focused border and key names.
    pub accent: Option<Colour>,
}

/// A terminal colour: one of the sixteen names (`red`, `light-blue`, `dark-gray`…), `reset`,
/// a 256-colour index (`208`) or `#rrggbb`. Names are read as terminals' docs spell them:
/// case, spaces, `-` and `_` do not matter; `bright` is `light`, `grey` and `silver` are `gray`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Colour {
    Reset,
    Black,
    Red,
    Green,
    Yellow,
    Blue,
    Magenta,
    Cyan,
    Gray,
    DarkGray,
    LightRed,
    LightGreen,
    LightYellow,
    LightBlue,
    LightMagenta,
    LightCyan,
    White,
    Indexed(u8),
    Rgb(u8, u8, u8),
}

impl std::str::FromStr for Colour {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let name = text
            .to_lowercase()
            .replace([' ', '-', '_'], "")
            .replace("bright", "light")
            .replace("grey", "gray")
            .replace("silver", "gray")
            .replace("lightblack", "darkgray")
            .replace("lightwhite", "white")
            .replace("lightgray", "white");
        let named = match name.as_str() {
            "reset" => Colour::Reset,
            "black" => Colour::Black,
            "red" => Colour::Red,
            "green" => Colour::Green,
            "yellow" => Colour::Yellow,
            "blue" => Colour::Blue,
            "magenta" => Colour::Magenta,
            "cyan" => Colour::Cyan,
            "gray" => Colour::Gray,
            "darkgray" => Colour::DarkGray,
            "lightred" => Colour::LightRed,
            "lightgreen" => Colour::LightGreen,
            "lightyellow" => Colour::LightYellow,
            "lightblue" => Colour::LightBlue,
            "lightmagenta" => Colour::LightMagenta,
            "lightcyan" => Colour::LightCyan,
            "white" => Colour::White,
            _ => {
                return text
                    .parse::<u8>()
                    .map(Colour::Indexed)
                    .ok()
                    .or_else(|| hex_colour(text))
                    .ok_or_else(|| format!("[console.colors] has an unknown colour {text:?}"));
            }
        };
        Ok(named)
    }
}

impl TryFrom<String> for Colour {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

fn hex_colour(text: &str) -> Option<Colour> {
    let hex = text.strip_prefix('#').filter(|h| h.len() == 6)?;
    let byte = |at: usize| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok();
    Some(Colour::Rgb(byte(0)?, byte(2)?, byte(4)?))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    pub user: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsConfig {
    pub auto_approve_max: Option<f64>,
    pub manual_review_max: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionConfig {
    pub approval_required_from_ring: Option<u32>,
}

/// Where the platform keeps cab's config file (`$XDG_CONFIG_HOME/cab/config.toml` on Linux).
pub fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "cab").map(|d| d.config_dir().join("config.toml"))
}

/// Where the platform keeps cab's data (`$XDG_DATA_HOME/cab/store.jsonl` on Linux).
pub fn default_store_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "cab").map(|d| d.data_dir().join("store.jsonl"))
}

impl Config {
    /// Load the file named explicitly (it must exist), or the default one if it exists.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        match explicit {
            Some(path) => Config::read(path),
            None => match default_config_path() {
                Some(path) if path.exists() => Config::read(&path),
                _ => Ok(Config::default()),
            },
        }
    }

    pub fn read(path: &Path) -> Result<Config, ConfigError> {
        // A config file is a few KiB; a FIFO or a device in its place is not waited on or read.
        let text = crate::files::read_text(path, 1 << 20).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| {
            // toml's message spans several lines with a source excerpt; keep the sentence.
            e.message().trim().to_string()
        })?;
        config.policy().map_err(|e| e.to_string())?;
        config.server.check()?;
        crate::notify::webhook::check_all(&config.webhooks)?;
        Ok(config)
    }

    pub fn policy(&self) -> Result<Policy, Invalid> {
        let defaults = Policy::default();
        let thresholds = Thresholds::new(
            self.thresholds
                .auto_approve_max
                .unwrap_or(defaults.thresholds.auto_approve_max()),
            self.thresholds
                .manual_review_max
                .unwrap_or(defaults.thresholds.manual_review_max()),
        )?;
        Ok(Policy {
            thresholds,
            approval_required_from_ring: self
                .promotion
                .approval_required_from_ring
                .unwrap_or(defaults.approval_required_from_ring),
        })
    }

    /// Who is acting in local mode: `CAB_USER` / `CAB_ROLES` over the config file's identity,
    /// and the login name when neither names a user.
    pub fn actor(
        &self,
        env_user: Option<String>,
        env_roles: Option<String>,
    ) -> Result<Actor, Invalid> {
        let user = env_user
            .filter(|u| !u.trim().is_empty())
            .or_else(|| self.identity.user.clone())
            .or_else(login_name)
            .ok_or_else(|| {
                Invalid::new(
                    "user",
                    "no user name: set CAB_USER or [identity] user in the config file",
                )
            })?;
        let roles: Vec<Role> = match env_roles {
            Some(text) => text
                .split(',')
                .filter(|r| !r.trim().is_empty())
                .map(str::parse)
                .collect::<Result<_, _>>()?,
            None => self
                .identity
                .roles
                .iter()
                .map(|r| r.parse())
                .collect::<Result<_, _>>()?,
        };
        Actor::new(&user, roles)
    }
}

fn login_name() -> Option<String> {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
        .or_else(|| whoami::account().ok().filter(|v| !v.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_of_the_example_file_parses() {
        let text = include_str!("../config.example.toml");
        let config = Config::parse(text).expect("config.example.toml must stay valid");
        assert!(config.identity.user.is_some());
        assert_eq!(config.console.theme, ThemeName::Default);
        assert_eq!(config.console.colors.urgent, Some(Colour::LightRed));
        crate::server::auth::Users::from_config(&config.server.users)
            .expect("the example's server users must be valid");
        assert!(config.remote.url.is_some() && config.server.listen.is_some());
        assert!(config.server.max_connections.is_some());
        assert_eq!(config.webhooks.len(), 2);
        assert_eq!(config.webhooks[1].format, crate::notify::Format::Slack);
        assert!(
            crate::notify::webhook::event_types().all(|t| config.webhooks[0]
                .events
                .as_ref()
                .is_some_and(|e| e.contains(t))),
            "the example's first webhook lists every event type"
        );
    }

    #[test]
    fn a_connection_cap_of_zero_is_refused() {
        let err = Config::parse("[server]\nmax_connections = 0\n").unwrap_err();
        assert!(err.contains("max_connections must be at least 1"), "{err}");
        let config = Config::parse("[server]\nmax_connections = 64\n").unwrap();
        assert_eq!(
            crate::server::Limits::from_config(&config.server).max_connections,
            64
        );
    }

    #[test]
    fn a_misspelt_setting_is_refused_with_its_name() {
        let err = Config::parse("[thresholds]\nauto_aprove_max = 40\n").unwrap_err();
        assert!(err.contains("auto_aprove_max"), "{err}");
    }

    #[test]
    fn thresholds_out_of_order_are_refused() {
        let err = Config::parse("[thresholds]\nauto_approve_max = 80\nmanual_review_max = 70\n")
            .unwrap_err();
        assert!(err.contains("must not be above"), "{err}");
    }

    #[test]
    fn environment_identity_overrides_the_file() {
        let config =
            Config::parse("[identity]\nuser = \"file-user\"\nroles = [\"cab_member\"]\n").unwrap();
        let actor = config
            .actor(Some("env-user".into()), Some("security_reviewer".into()))
            .unwrap();
        assert_eq!(actor.name, "env-user");
        assert!(actor.has(Role::SecurityReviewer) && !actor.has(Role::CabMember));
        let from_file = config.actor(None, None).unwrap();
        assert_eq!(from_file.name, "file-user");
        assert!(from_file.has(Role::CabMember));
    }

    #[test]
    fn an_unknown_theme_is_refused_when_parsed_by_name() {
        let err = Config::parse("[console]\ntheme = \"neon\"\n").unwrap_err();
        assert!(err.contains("unknown console theme \"neon\""), "{err}");
        let config = Config::parse("[console]\ntheme = \"monochrome\"\n").unwrap();
        assert_eq!(config.console.theme, ThemeName::Monochrome);
    }

    #[test]
    fn an_unknown_colour_is_refused_when_parsed_by_name() {
        let err = Config::parse("[console.colors]\nurgent = \"blurple\"\n").unwrap_err();
        assert!(err.contains("unknown colour \"blurple\""), "{err}");
    }

    #[test]
    fn colours_are_read_by_name_index_or_hex() {
        for (text, colour) in [
            ("red", Colour::Red),
            ("Light-Blue", Colour::LightBlue),
            ("bright_green", Colour::LightGreen),
            ("dark grey", Colour::DarkGray),
            ("silver", Colour::Gray),
            ("208", Colour::Indexed(208)),
            ("#ff8800", Colour::Rgb(0xff, 0x88, 0x00)),
        ] {
            assert_eq!(text.parse::<Colour>(), Ok(colour), "{text}");
        }
        for text in ["#ff88", "256", "#gg0000", ""] {
            assert!(text.parse::<Colour>().is_err(), "{text}");
        }
    }

    #[test]
    fn an_unknown_server_user_role_is_refused_when_parsed() {
        let text =
            "[[server.users]]\nname = \"carol\"\nroles = [\"admin\"]\ntoken_sha256 = \"00\"\n";
        let err = Config::parse(text).unwrap_err();
        assert!(
            err.contains("[[server.users]] \"carol\": unknown role \"admin\""),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_role_is_refused() {
        let err = Config::default()
            .actor(Some("x".into()), Some("cab_member,admin".into()))
            .unwrap_err();
        assert!(err.message.contains("admin"));
    }
}
