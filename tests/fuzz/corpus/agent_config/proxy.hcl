0vault { retry { num_retries = -1 } }
listener "unix" { address = "/s" agent_api { enable_quit = true } }
api_proxy { use_auto_auth_token = "force" }
cache {}
