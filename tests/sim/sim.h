/*
 * sim.h -- deterministic simulator for the Raft core.
 *
 * One "world" per seed: N Raft nodes (plus spare slots for learners that
 * membership changes add) on a virtual clock, a seeded network that delays,
 * drops, duplicates and reorders encoded messages and can be partitioned,
 * simulated durable storage filled only from ready batches, and a checker
 * that runs after every step.  Everything derives from the seed, so a
 * failing seed replays byte for byte.
 *
 * The simulator compiles the core with RAFT_TEST_FAULTS and looks at a few
 * internals (role, term, commit) through raft_internal.h because copying a
 * full raft_status after every step would dominate the run time.
 */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/raft.h"
#include "core/raft_rand.h"

#define SIM_MAX_SLOTS 10
#define SIM_SPARE_SLOTS 2
#define SIM_DEFAULT_TIME 3000     /* ms of faults before healing */

typedef struct sim_opts {
    int nodes;                  /* initial voters: 3..7 (this seed's) */
    int node_list[5];           /* --nodes 3,5,7: seed s runs with */
    int n_node_list;            /* node_list[s % n_node_list] voters */
    uint64_t seed;
    uint64_t seeds;             /* how many consecutive seeds */
    uint64_t max_steps;         /* per seed, 0 = no bound */
    uint64_t chaos_ms;          /* virtual time with faults */
    uint32_t faults;            /* RAFT_FAULT_* injected into the core */
    bool verbose;
} sim_opts;

/* A stored entry with its chain hash: H(chain of previous entry, term,
 * type, data).  Equal chains at an index mean equal logs up to there. */
typedef struct sim_entry {
    raft_entry e;
    uint64_t chain;
} sim_entry;

typedef enum sim_slot_state {
    SLOT_EMPTY = 0,             /* no node (never used or decommissioned) */
    SLOT_UP,
    SLOT_DOWN                   /* crashed: only durable state remains */
} sim_slot_state;

typedef struct sim_node {
    sim_slot_state state;
    char id[RAFT_ID_MAX + 1];
    int gen;                    /* incarnation of this slot */
    raft *r;
    raft_config cfg;
    uint64_t tick_ms;           /* this node's timer period */
    uint64_t next_tick;
    uint64_t restart_at;        /* SLOT_DOWN: when to come back */
    uint64_t doom_at;           /* SLOT_UP: scheduled crash, 0 = none */
    /* durable storage */
    raft_hard_state hs;
    bool has_snap;
    raft_snapshot snap;
    uint64_t snap_chain;
    sim_entry *log;
    size_t n_log, cap_log;
    /* state machine (volatile, rebuilt from snapshot + log on restart) */
    uint64_t applied;
    uint64_t sm_hash;
    uint64_t sm_count;
    /* checker's memory of this life */
    uint64_t seen_commit;       /* in-memory commit: never decreases */
    uint64_t checked_commit;    /* committed prefix compared so far */
    uint64_t durable_commit;    /* across lives: never decreases */
    /* fault switches for the next ready batch */
    bool fail_next_persist;
    bool crash_after_persist;
    bool crash_mid_persist;     /* torn batch: a prefix is durable */
} sim_node;

typedef struct sim_pkt {
    uint64_t at;                /* delivery time */
    uint64_t seq;               /* tie-break: stable, deterministic order */
    int from;
    char to[RAFT_ID_MAX + 1];
    uint8_t *bytes;
    size_t len;
} sim_pkt;

typedef struct sim_read {
    int slot;
    int gen;
    uint64_t ctx;
    uint64_t min_index;         /* everything committed when asked */
} sim_read;

typedef struct sim_removal {
    char id[RAFT_ID_MAX + 1];
    uint64_t index, term;
} sim_removal;

typedef struct sim_lm_slot {
    uint64_t index;             /* 0 = empty */
    uint64_t term;
    uint64_t chain;
} sim_lm_slot;

/* What the cluster agreed on at one index. */
typedef struct sim_canon {
    uint64_t committed_chain;   /* chain of the committed entry */
    uint64_t applied_hash;      /* the entry every node applies here */
    uint64_t state;             /* state machine hash after applying it */
    bool has_committed;
    bool has_applied;
} sim_canon;

typedef struct sim_stats {
    uint64_t steps, elections, commits, faults, violations;
} sim_stats;

typedef struct sim_world {
    const sim_opts *opts;
    uint64_t seed;
    raft_rng rng;
    uint64_t now;
    uint64_t step;
    bool stop;                  /* a violation ended this seed */
    int n_init;
    int n_slots;
    sim_node nodes[SIM_MAX_SLOTS];
    /* parameters drawn from the seed */
    uint32_t T;
    uint64_t delay_max;
    uint32_t loss_pm, dup_pm;   /* per mille */
    uint32_t doom_pm;           /* chance a new leader crashes at once */
    uint64_t op_mean, fault_mean;
    bool healing;               /* final phase: no faults */
    uint64_t heal_at;
    uint64_t live_ms;           /* liveness bound after heal_at */
    uint64_t next_op, next_fault;
    /* network */
    sim_pkt *pq;                /* binary heap by (at, seq) */
    size_t npq, cappq;
    uint64_t pkt_seq;
    /* link i -> j drops messages until this time (each cut heals on its
     * own schedule; 0 = intact) */
    uint64_t cut_until[SIM_MAX_SLOTS][SIM_MAX_SLOTS];
    /* checker state */
    sim_lm_slot *lm;            /* (index, term) -> chain, open addressing */
    size_t lm_cap, lm_n;
    sim_canon *canon;           /* by index */
    size_t canon_cap;
    uint64_t commit_max;
    char (*term_leader)[RAFT_ID_MAX + 1];
    size_t term_cap;
    sim_read *reads;
    size_t n_reads, cap_reads;
    uint64_t next_ctx;
    sim_removal removals[64];
    int n_removals;
    uint64_t next_prop;
    uint64_t final_prop;        /* liveness marker id, 0 = not yet */
    uint64_t final_term;        /* term it was last proposed in */
    bool final_done;
    sim_stats st;
    FILE *out;
} sim_world;

/* sim_world.c */
int sim_run_seed(const sim_opts *o, uint64_t seed, sim_stats *st, FILE *out);
void sim_trace(sim_world *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sim_violation(sim_world *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
uint64_t sim_rand(sim_world *w, uint64_t n);
bool sim_chance(sim_world *w, uint32_t per_mille);
void sim_net_send(sim_world *w, int from, const raft_msg *m);
void sim_net_clear(sim_world *w);

/* sim_node.c */
void sim_node_start(sim_world *w, int slot, bool bootstrap);
void sim_node_crash(sim_world *w, int slot);
void sim_node_restart(sim_world *w, int slot);
void sim_node_decommission(sim_world *w, int slot);
void sim_node_drain(sim_world *w, int slot);
void sim_node_free(sim_node *nd);
int sim_slot_of(const sim_world *w, const char *id);
int sim_take_snapshot(sim_world *w, int slot);
uint64_t sim_chain_at(const sim_node *nd, uint64_t index, bool *found);
uint64_t sim_hash(uint64_t h, const void *p, size_t n);
uint64_t sim_entry_hash(const raft_entry *e);
uint64_t sim_mix(uint64_t h, uint64_t v);

/* sim_check.c */
void sim_check_init(sim_world *w);
void sim_check_free(sim_world *w);
void sim_check_entry(sim_world *w, int slot, const sim_entry *se);
void sim_check_node(sim_world *w, int slot);
void sim_check_apply(sim_world *w, int slot, const raft_entry *e);
void sim_check_snapshot_install(sim_world *w, int slot, uint64_t index,
                                uint64_t state);
void sim_check_restart(sim_world *w, int slot);
void sim_check_read(sim_world *w, int slot, const raft_read_state *rs);
void sim_check_durable_commit(sim_world *w, int slot, uint64_t commit);
uint64_t sim_lm_lookup(const sim_world *w, uint64_t index, uint64_t term,
                       bool *found);
sim_canon *sim_canon_at(sim_world *w, uint64_t index);
/* Decommissions nodes whose removal from the membership committed. */
void sim_process_removals(sim_world *w);

/* sim_ops.c */
void sim_do_op(sim_world *w);
void sim_do_fault(sim_world *w);
void sim_heal_links(sim_world *w);
/* Cuts every link to and from slot (messages in flight are lost too). */
void sim_cut_off(sim_world *w, int slot);
int sim_find_leader(const sim_world *w);
void sim_liveness_op(sim_world *w);

#endif
