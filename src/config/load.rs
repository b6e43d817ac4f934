//! The layers, in order, each a figment provider named after where it came from.

use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::value::{Dict, Value};
use figment::Figment;

use super::layer::Layer;
use super::{env, redact, ConfigError, Settings};

/// The defaults, compiled in.
const EMBEDDED_DEFAULTS: &str = include_str!("../../config/default.toml");
/// The name of the first layer.
const EMBEDDED_LAYER: &str = "embedded defaults";
/// The name of the last layer.
const FLAGS_LAYER: &str = "command-line flags";
/// The directory, under the working directory, holding the per-environment files.
const CONFIG_DIRECTORY: &str = "config";
/// Names the per-environment file.
const ENVIRONMENT_VARIABLE: &str = "PLAYCORE_ENV";

/// Where the layers come from; [`Sources::from_process`] in production, built by hand in
/// tests so they neither read nor change the process environment.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The directory holding `config/` (the working directory).
    pub base_dir: PathBuf,
    /// Environment variables; `PLAYCORE_ENV` and `PLAYCORE__*` are read.
    pub env_vars: Vec<(String, String)>,
}

impl Sources {
    pub fn from_process() -> Self {
        // `vars_os`: a variable that is not Unicode must not make startup panic; ours are.
        let env_vars = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .filter(|(name, _)| name == ENVIRONMENT_VARIABLE || name.starts_with(env::ENV_PREFIX))
            .collect();
        Self {
            base_dir: PathBuf::from("."),
            env_vars,
        }
    }

    fn environment(&self) -> Option<&str> {
        self.env_vars
            .iter()
            .find(|(name, _)| name == ENVIRONMENT_VARIABLE)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }
}

/// What the command line adds: the last layers.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub demo: bool,
}

impl Settings {
    /// Loads the settings of this process: working directory, process environment, flags.
    pub fn load(overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_from(&Sources::from_process(), overrides)
    }

    /// The embedded defaults alone (tests start from these and adjust fields).
    pub fn embedded_defaults() -> Result<Self, ConfigError> {
        let mut settings = extract(&Figment::from(embedded_layer()?))?;
        settings.layers = vec![EMBEDDED_LAYER.to_owned()];
        Ok(settings)
    }

    /// Loads from explicit sources; see the module doc for the layering.
    pub fn load_from(sources: &Sources, overrides: &Overrides) -> Result<Self, ConfigError> {
        let environment = sources.environment().map(str::to_owned);
        let mut layers = vec![EMBEDDED_LAYER.to_owned()];
        let mut figment = Figment::from(embedded_layer()?);
        for path in file_paths(sources, environment.as_deref(), overrides)? {
            let layer = file_layer(&path)?;
            layers.push(layer.name.clone());
            figment = figment.merge(layer);
        }
        let (mut figment, applied) = env::merge(figment, &sources.env_vars)?;
        if applied > 0 {
            layers.push(format!(
                "{applied} {} environment variable(s)",
                env::ENV_PREFIX
            ));
        }
        if let Some(layer) = flags_layer(overrides)? {
            layers.push(layer.name.clone());
            figment = figment.merge(layer);
        }
        let mut settings = extract(&figment)?;
        settings.demo = overrides.demo;
        settings.environment = environment;
        settings.layers = layers;
        settings.validate()?;
        settings.check_environment()?;
        Ok(settings)
    }
}

/// The files to read over the embedded defaults, in order.
fn file_paths(
    sources: &Sources,
    environment: Option<&str>,
    overrides: &Overrides,
) -> Result<Vec<PathBuf>, ConfigError> {
    let config_dir = sources.base_dir.join(CONFIG_DIRECTORY);
    let local_defaults = config_dir.join("default.toml");
    let mut paths = Vec::new();
    if local_defaults.is_file() {
        paths.push(local_defaults);
    }
    if let Some(name) = environment {
        paths.push(config_dir.join(format!("{}.toml", checked_environment(name)?)));
    }
    if let Some(path) = &overrides.config_file {
        paths.push(sources.base_dir.join(path));
    }
    Ok(paths)
}

/// Environment names become file names: refuse anything that could leave `config/`.
fn checked_environment(name: &str) -> Result<&str, ConfigError> {
    let valid = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(name)
    } else {
        Err(ConfigError::EnvironmentName(name.to_owned()))
    }
}

fn embedded_layer() -> Result<Layer, ConfigError> {
    toml_layer(EMBEDDED_LAYER.to_owned(), EMBEDDED_DEFAULTS)
}

fn file_layer(path: &Path) -> Result<Layer, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml_layer(path.display().to_string(), &text)
}

/// Parses now rather than when figment merges, so a syntax error names its file at once.
fn toml_layer(name: String, text: &str) -> Result<Layer, ConfigError> {
    match Toml::from_str::<Dict>(text) {
        Ok(values) => Ok(Layer { name, values }),
        Err(error) => Err(ConfigError::Parse {
            origin: name,
            message: error.to_string(),
        }),
    }
}

/// `--bind` and `--data-dir`, when given.
fn flags_layer(overrides: &Overrides) -> Result<Option<Layer>, ConfigError> {
    let mut values = Dict::new();
    if let Some(bind) = &overrides.bind {
        set(&mut values, "server", "bind", bind);
    }
    if let Some(data_dir) = &overrides.data_dir {
        let text = data_dir
            .to_str()
            .ok_or_else(|| ConfigError::NonUtf8Path(data_dir.clone()))?;
        set(&mut values, "storage", "data_dir", text);
    }
    let name = FLAGS_LAYER.to_owned();
    Ok((!values.is_empty()).then_some(Layer { name, values }))
}

fn set(values: &mut Dict, section: &str, key: &str, text: &str) {
    let section = values
        .entry(section.to_owned())
        .or_insert_with(|| Value::from(Dict::new()));
    if let Value::Dict(_, section) = section {
        section.insert(key.to_owned(), Value::from(text));
    }
}

/// Deserializes the merged layers; an error names the key and the layer that gave it.
fn extract(figment: &Figment) -> Result<Settings, ConfigError> {
    figment.extract().map_err(|error| {
        let key = dotted_key(&error.path);
        let layer = error
            .metadata
            .as_ref()
            .map(|metadata| metadata.name.to_string());
        ConfigError::Key {
            message: redact::error_message(&key, &error.kind),
            layer: layer.unwrap_or_else(|| "the merged layers".to_owned()),
            key,
        }
    })
}

/// `["auth", "tokens", "0", "name"]` → `auth.tokens[0].name`.
fn dotted_key(path: &[String]) -> String {
    let mut key = String::new();
    for segment in path {
        if segment.bytes().all(|byte| byte.is_ascii_digit()) {
            key.push_str(&format!("[{segment}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(segment);
        }
    }
    key
}
