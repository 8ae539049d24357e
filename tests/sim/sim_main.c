/*
 * sim_main.c -- raft-sim command line: run one seed or a range of seeds and
 * summarize.  Exit status 0 only when no check failed.
 *
 *   raft-sim --nodes N --seed S               one seed
 *   raft-sim --nodes N --seeds K [--seed B]   seeds B .. B+K-1
 *   --nodes 3,5,7    a list: seed S runs with list[S mod length] nodes, so
 *                    a seed's world does not depend on the range it is in
 *   --time MS        virtual time with faults before the healing phase
 *   --steps M        bound on steps per seed
 *   --fault commit-old-term|double-vote|stale-read   inject a core bug
 *   --verbose        trace every step
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static int
usage(void)
{
    fprintf(stderr,
            "usage: raft-sim [--nodes N[,N...]] [--seed S] [--seeds K] [--time MS]\n"
            "                [--steps M] [--fault commit-old-term|double-vote|stale-read]\n"
            "                [--verbose]\n");
    return 2;
}

static bool
parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (s == NULL || *s == '\0')
        return false;
    *v = strtoull(s, &end, 10);
    return *end == '\0';
}

/* "5" or "3,5,7": each 3..7, at most five of them. */
static bool
parse_nodes(const char *v, sim_opts *o)
{
    o->n_node_list = 0;
    for (const char *p = v; *p;) {
        char *end;
        unsigned long n = strtoul(p, &end, 10);
        if (end == p || n < 3 || n > 7 || o->n_node_list == 5)
            return false;
        o->node_list[o->n_node_list++] = (int)n;
        if (*end == ',' && end[1] != '\0')
            end++;
        else if (*end != '\0')
            return false;
        p = end;
    }
    return o->n_node_list > 0;
}

static int
parse(int argc, char **argv, sim_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (strcmp(a, "--verbose") == 0) {
            o->verbose = true;
            continue;
        }
        if (strcmp(a, "--fault") == 0 && v != NULL) {
            if (strcmp(v, "commit-old-term") == 0)
                o->faults |= RAFT_FAULT_COMMIT_OLD_TERM;
            else if (strcmp(v, "double-vote") == 0)
                o->faults |= RAFT_FAULT_DOUBLE_VOTE;
            else if (strcmp(v, "stale-read") == 0)
                o->faults |= RAFT_FAULT_STALE_READ;
            else
                return usage();
            i++;
            continue;
        }
        if (strcmp(a, "--nodes") == 0 && v != NULL) {
            if (!parse_nodes(v, o))
                return usage();
            i++;
            continue;
        }
        if (!parse_u64(v, &n))
            return usage();
        i++;
        if (strcmp(a, "--seed") == 0)
            o->seed = n;
        else if (strcmp(a, "--seeds") == 0 && n >= 1)
            o->seeds = n;
        else if (strcmp(a, "--time") == 0 && n >= 100)
            o->chaos_ms = n;
        else if (strcmp(a, "--steps") == 0)
            o->max_steps = n;
        else
            return usage();
    }
    return 0;
}

/* The exact command line that replays a failing seed alone. */
static void
print_failure(const sim_opts *o, uint64_t seed)
{
    printf("FAIL seed=%llu nodes=%d (reproduce: raft-sim --nodes %d --seed %llu",
           (unsigned long long)seed, o->nodes, o->nodes, (unsigned long long)seed);
    if (o->chaos_ms != SIM_DEFAULT_TIME)
        printf(" --time %llu", (unsigned long long)o->chaos_ms);
    if (o->max_steps)
        printf(" --steps %llu", (unsigned long long)o->max_steps);
    if (o->faults & RAFT_FAULT_COMMIT_OLD_TERM)
        printf(" --fault commit-old-term");
    if (o->faults & RAFT_FAULT_DOUBLE_VOTE)
        printf(" --fault double-vote");
    if (o->faults & RAFT_FAULT_STALE_READ)
        printf(" --fault stale-read");
    printf(")\n");
}

int
main(int argc, char **argv)
{
    sim_opts o = {.node_list = {3}, .n_node_list = 1, .seed = 1, .seeds = 1,
                  .chaos_ms = SIM_DEFAULT_TIME};
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc;
    sim_stats total = {0};
    uint64_t failed = 0;
    for (uint64_t k = 0; k < o.seeds; k++) {
        uint64_t seed = o.seed + k;
        o.nodes = o.node_list[seed % (uint64_t)o.n_node_list];
        sim_stats st;
        if (sim_run_seed(&o, seed, &st, stdout) != 0) {
            failed++;
            print_failure(&o, seed);
        }
        total.steps += st.steps;
        total.elections += st.elections;
        total.commits += st.commits;
        total.faults += st.faults;
        total.violations += st.violations;
    }
    printf("seeds=%llu steps=%llu elections=%llu commits=%llu faults=%llu "
           "violations=%llu\n", (unsigned long long)o.seeds,
           (unsigned long long)total.steps, (unsigned long long)total.elections,
           (unsigned long long)total.commits, (unsigned long long)total.faults,
           (unsigned long long)total.violations);
    fflush(stdout);
    return failed == 0 ? 0 : 1;
}
