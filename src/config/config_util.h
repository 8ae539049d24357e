/*
 * config_util.h -- small text helpers shared by the config modules.
 */
#ifndef CONFIG_UTIL_H
#define CONFIG_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Strips leading and trailing blanks in place. */
void config_trim(char *s);

/* Copies s into buf with control and non-ASCII bytes shown as \xNN, so a
 * hostile value cannot garble an error line or a terminal. */
const char *config_escape(const char *s, char *buf, size_t len);

bool config_id_valid(const char *s);

/* Monitored-set names as Sentinel accepts them: printable, no blanks. */
bool config_name_valid(const char *s);

#endif
