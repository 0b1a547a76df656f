"""The shipped rule packs (Sigma rules, one per YAML document), folders by domain."""
