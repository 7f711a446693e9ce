"""Configuration: `config.yaml` (credentials, defaults) and `multi_llm_config.yaml` (routing).

STUB: the configuration helper owns this package. Contract:

    settings = load_settings(config_dir=None, environ=os.environ)   # raises ConfigError
    settings.router        -> polyteam.routing.Router
    settings.max_budget    -> float | None       (MAX_BUDGET, USD per run)
    settings.prices        -> dict[str, Price]   (PRICES: map in config.yaml, model -> price)
    settings.code_review_k -> int                (CODE_REVIEW_K, default 1)
    settings.config_dir    -> Path | None        (where the files were found)
"""
