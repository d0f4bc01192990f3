/*
 * config_set.c — a configuration as a value changed one key at a time:
 * the copy the console's SET starts from, the key set on that copy by
 * the loader's own setter, and each key's value as text for SHOW CONFIG.
 *
 * The copy shares nothing with the original: the running configuration
 * is untouched until the new one is swapped in (lifecycle_swap, the path
 * a reload takes), and either can be freed first.
 *
 * INTERFACE ROUTINES: see config.h (config_copy, config_with_setting,
 * config_key_next, config_key_value).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_internal.h"
#include "hba.h"

/* dst is a bytewise copy of src; give it its own name and strings. */
static bool copy_entry(const struct cfg_key *tab, size_t n, void *dst, const void *src,
		       char **dst_name, const char *src_name)
{
	*dst_name = NULL;
	return cfg_keys_copy(tab, n, dst, src) && (*dst_name = strdup(src_name)) != NULL;
}

static bool copy_dbs(struct config *c, const struct config *cfg)
{
	if (!cfg->ndbs)
		return true;
	if (!(c->dbs = calloc(cfg->ndbs, sizeof *c->dbs)))
		return false;
	for (size_t i = 0; i < cfg->ndbs; i++) {
		c->dbs[i] = cfg->dbs[i];
		c->ndbs = i + 1;          /* config_free frees it from here, half-copied or not */
		if (!copy_entry(cfg_db_keys, cfg_db_nkeys, &c->dbs[i], &cfg->dbs[i], &c->dbs[i].name,
				cfg->dbs[i].name))
			return false;
	}
	if (cfg->fallback)
		c->fallback = c->dbs + (cfg->fallback - cfg->dbs);
	return true;
}

static bool copy_user_settings(struct config *c, const struct config *cfg)
{
	if (!cfg->nuser_settings)
		return true;
	if (!(c->user_settings = calloc(cfg->nuser_settings, sizeof *c->user_settings)))
		return false;
	for (size_t i = 0; i < cfg->nuser_settings; i++) {
		c->user_settings[i] = cfg->user_settings[i];
		c->nuser_settings = i + 1;
		if (!copy_entry(cfg_user_keys, cfg_user_nkeys, &c->user_settings[i], &cfg->user_settings[i],
				&c->user_settings[i].name, cfg->user_settings[i].name))
			return false;
	}
	return true;
}

static bool copy_peers(struct config *c, const struct config *cfg)
{
	if (!cfg->npeers)
		return true;
	if (!(c->peers = calloc(cfg->npeers, sizeof *c->peers)))
		return false;
	for (size_t i = 0; i < cfg->npeers; i++) {
		c->peers[i] = cfg->peers[i];
		c->npeers = i + 1;
		if (!copy_entry(cfg_peer_keys, cfg_peer_nkeys, &c->peers[i], &cfg->peers[i],
				&c->peers[i].name, cfg->peers[i].name))
			return false;
	}
	return true;
}

static bool copy_or_null(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return !src || *dst;
}

struct config *config_copy(const struct config *cfg)
{
	struct config *c = malloc(sizeof *c);
	if (!c)
		return NULL;
	*c = *cfg;
	/* nothing of cfg's stays in c: from here config_free(c) is safe */
	c->path = c->dir = NULL;
	c->dbs = NULL;
	c->ndbs = 0;
	c->fallback = NULL;
	c->user_settings = NULL;
	c->nuser_settings = 0;
	c->peers = NULL;
	c->npeers = 0;
	c->users = NULL;
	c->hba = NULL;
	bool fine = cfg_keys_copy(cfg_global_keys, cfg_global_nkeys, c, cfg) &&
		    copy_or_null(&c->path, cfg->path) && copy_or_null(&c->dir, cfg->dir) &&
		    copy_dbs(c, cfg) && copy_user_settings(c, cfg) && copy_peers(c, cfg) &&
		    (!cfg->users || (c->users = userlist_copy(cfg->users))) &&
		    (!cfg->hba || (c->hba = hba_copy(cfg->hba)));
	if (!fine) {
		config_free(c);
		return NULL;
	}
	return c;
}

/* Keys SET may not change: those a restart changes, and those read from
 * files or turned into other state at load (edit the file, then RELOAD). */
static bool settable(const struct cfg_key *k)
{
	return k->reload_ok && k->type != CFG_PATH && strcmp(k->name, "auth_type") != 0 &&
	       strncmp(k->name, "client_tls", 10) != 0 && strncmp(k->name, "server_tls", 10) != 0;
}

enum config_set config_with_setting(const struct config *cfg, const char *key, const char *value,
				    struct config **next, char *err, size_t errlen)
{
	const struct cfg_key *k = cfg_key_find(cfg_global_keys, cfg_global_nkeys, key);
	char why[256];

	*next = NULL;
	if (!k || k->type == CFG_UNSUPPORTED) {
		snprintf(err, errlen, k ? "%s: not supported by sluice yet" : "unknown configuration key: %s",
			 key);
		return CONFIG_SET_UNKNOWN;
	}
	if (!settable(k)) {
		snprintf(err, errlen, "%s cannot be changed with SET: %s", k->name,
			 k->reload_ok ? "edit the configuration file, then RELOAD" : "it needs a restart");
		return CONFIG_SET_FIXED;
	}
	struct config *c = config_copy(cfg);
	if (!c) {
		snprintf(err, errlen, "%s: out of memory", k->name);
		return CONFIG_SET_NOMEM;
	}
	if (!cfg_key_set(k, c, value, c->dir, why, sizeof why)) {
		snprintf(err, errlen, "%s: %s", k->name, why);
		config_free(c);
		return CONFIG_SET_INVALID;
	}
	*next = c;
	return CONFIG_SET_OK;
}

bool config_key_next(size_t *cursor, struct config_key_info *info)
{
	while (*cursor < cfg_global_nkeys) {
		const struct cfg_key *k = &cfg_global_keys[(*cursor)++];
		if (k->type == CFG_UNSUPPORTED)
			continue;
		*info = (struct config_key_info){ k->name, k->def, k->reload_ok };
		return true;
	}
	return false;
}

char *config_key_value(const struct config *cfg, const char *key)
{
	const struct cfg_key *k = cfg_key_find(cfg_global_keys, cfg_global_nkeys, key);
	return k && k->type != CFG_UNSUPPORTED ? cfg_key_text(k, cfg) : NULL;
}
