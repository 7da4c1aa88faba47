/* ring_wake.pml - the ring's sleep and wake-up protocol (ring/ring.c), checked
 * with spin under a store-buffer memory model: no lost wake-up, in either
 * direction, for every interleaving and every order in which stores leave
 * the buffers.
 *
 * One lossless producer and one consumer, as tt_ring_commit / wait_for_room
 * and tt_ring_wait_sc / tt_ring_release_sc run them, on a ring of CAP
 * records. The producer commits N records (publishing after any of them: the
 * batching), waits for room when the ring is full, then closes the ring
 * (tt_ring_close). The consumer waits, takes all that is published, releases
 * it, and stops when the ring is closed and empty. spin reports a lost
 * wake-up as an invalid end state (a side asleep on its futex word that no
 * one will wake) and a lost record by the assertion at the end.
 *
 * -DKICK adds a third thread that calls tt_ring_wake_consumer once, at any
 * moment, and takes the close away (a close would wake the consumer and
 * hide a lost kick): the consumer then stops once it has read every record
 * and seen the kick returned (0), so a lost kick leaves it asleep for good.
 * The third thread's buffer makes this variant ~12 times larger; it is run
 * with N=3, CAP=2.
 *
 * -DCLOSER has the third thread call tt_ring_close at any moment instead of
 * the producer after its last record. A lossless producer that finds the
 * ring full and closed drops the record (TT_EFULL) and goes on; the
 * consumer stops at TT_ECLOSED, so records committed after the close may
 * stay unread and the check is that neither side sleeps for good (a
 * producer waiting for room the consumer, gone, will never make).
 *
 * Memory model: x86-TSO. Each thread's stores go into its own FIFO buffer
 * and reach memory in order, at any later moment (the process `flush`); a
 * thread's loads see its own buffered stores first. What is modelled of the
 * orderings:
 *   - a seq_cst thread fence (heavy_fence's first half, light_fence without
 *     membarrier) waits until the thread's own buffer is empty;
 *   - an atomic read-modify-write (the seq bump in wake(), the exchange
 *     that takes a kick) empties the buffer first, as x86's locked
 *     instructions do;
 *   - membarrier(PRIVATE_EXPEDITED) (heavy_fence's second half) empties the
 *     other threads' buffers: the barrier it makes their CPUs run;
 *   - light_fence with membarrier is a compiler barrier only: nothing here;
 *   - the kernel's futex_wait compares the word in memory and sleeps in one
 *     step, and drains the caller's buffer (it takes a lock); futex_wake
 *     wakes the sleeper.
 * Store -> load reordering, the one x86 allows, is the reordering the Dekker
 * pairs (PW1/CS2, CW1/PS2) exist for. ARM's further reorderings are ruled
 * out in the C code by its acquire/release pairs and are not modelled here.
 *
 * Run: tests/test_ring_model.sh (spin -a; cc pan.c; ./pan). -DSYMMETRIC
 * checks the other mode (TT_RING_SYMMETRIC_FENCE, no membarrier: both fences
 * seq_cst). Five variants must fail, which shows the check can:
 * -DBROKEN_CS2 and -DBROKEN_PS2 remove the consumer's or the producer's
 * heavy fence (spin finds the lost wake-up: a side asleep for good),
 * -DKICK -DBROKEN_KICK leaves out the consumer's look at the kick at CS3
 * (the lost kick), -DCLOSER -DBROKEN_PCLOSE a sleeping producer's look at
 * `closed` (it sleeps for good after the consumer has gone), and
 * -DOLD_CLOSE is tt_ring_wait_sc as it was before the model was written: at
 * CS3 it returned TT_ECLOSED on seeing the ring closed without a second look
 * at the head, and spin finds a run where the producer publishes its last
 * record and closes between the consumer's two loads, which then stops with
 * that record unread. */

#ifndef CAP
#define CAP 4
#endif
#ifndef N
#define N 6
#endif
#ifndef SB
#define SB 4 /* store-buffer depth */
#endif

/* memory cells */
#define HEAD 0
#define TAIL 1
#define CWSEQ 2
#define CWSLP 3
#define PWSEQ 4
#define PWSLP 5
#define CLOSED 6
#define KICKF 7
#define NVARS 8

#define PROD 0
#define CONS 1
#define OTHER 2	/* tt_ring_wake_consumer's thread (-DKICK) */

byte mem[NVARS];
chan sb[3] = [SB] of { byte, byte };	/* (cell, value), oldest first */
typedef pend_t { byte n[NVARS]; byte last[NVARS] };
pend_t pend[3];				/* per thread: buffered stores per cell, newest value */
bool cw_asleep, pw_asleep;		/* in futex_wait on cw.seq / pw.seq */
byte consumed;
byte dv, dx;				/* drain_one's scratch: used inside atomic steps only */

/* store: into the thread's buffer */
inline st(t, v, x) {
	atomic { sb[t]!v, x; pend[t].n[v]++; pend[t].last[v] = x }
}
/* load: the thread's newest buffered store to the cell, else memory */
inline ld(t, v, r) {
	atomic { if :: pend[t].n[v] > 0 -> r = pend[t].last[v] :: else -> r = mem[v] fi }
}
/* one buffered store of thread t reaches memory */
inline drain_one(t) {
	sb[t]?dv, dx; mem[dv] = dx; pend[t].n[dv]--; dv = 0; dx = 0
}
/* seq_cst fence: wait until the own buffer is empty */
inline fence(t) { empty(sb[t]) }
/* membarrier: every other thread runs a full barrier now */
inline membarrier(t) {
	atomic {
		do
		:: t != PROD && nempty(sb[PROD]) -> drain_one(PROD)
		:: t != CONS && nempty(sb[CONS]) -> drain_one(CONS)
		:: t != OTHER && nempty(sb[OTHER]) -> drain_one(OTHER)
		:: else -> break
		od
	}
}
inline heavy_fence(t) {
	fence(t);
#ifdef SYMMETRIC
	skip
#else
	membarrier(t)
#endif
}
inline light_fence(t) {
#ifdef SYMMETRIC
	fence(t)
#else
	skip
#endif
}
/* wake(): clear sleeping, bump seq (a locked RMW), futex_wake */
inline wake(t, SLP, SEQ, asleep) {
	st(t, SLP, 0);
	fence(t);
	atomic { mem[SEQ]++; asleep = false }
}
/* futex_wait(SEQ, expected): drains the caller's buffer, then sleeps unless
 * the word changed, until a wake */
inline futex_wait(t, SEQ, expected, asleep) {
	fence(t);
	atomic { if :: mem[SEQ] == expected -> asleep = true :: else -> skip fi };
	!asleep
}

/* kick = exchange(kick, 0): a locked RMW */
inline take_kick(t, r) {
	fence(t);
	atomic { r = mem[KICKF]; mem[KICKF] = 0 }
}

/* The stores leave the buffers in order, at any time. */
active proctype flush() {
end:	do
	:: atomic { nempty(sb[PROD]) -> drain_one(PROD) }
	:: atomic { nempty(sb[CONS]) -> drain_one(CONS) }
	:: atomic { nempty(sb[OTHER]) -> drain_one(OTHER) }
	od
}

#ifdef KICK
/* tt_ring_wake_consumer, once, at any moment: K0 (relaxed), then wake */
active proctype kicker() {
	st(OTHER, KICKF, 1);
	wake(OTHER, CWSLP, CWSEQ, cw_asleep)
}
#endif
#ifdef CLOSER
/* tt_ring_close from a third thread, at any moment: K0 (release), wakes */
active proctype closer() {
	st(OTHER, CLOSED, 1);
	wake(OTHER, CWSLP, CWSEQ, cw_asleep);
	wake(OTHER, PWSLP, PWSEQ, pw_asleep)
}
#endif

active proctype producer() {
	byte att, pos, published, tail_cache, seq, x, want, free_now;
	bool ok;
	do
	:: att == N -> break
	:: att < N ->
		att++;
		ok = true;
		/* room for one record? (wait_for_room when not) */
		if
		:: pos - tail_cache < CAP -> skip
		:: else ->
			if	/* publish: the consumer cannot free room it cannot see */
			:: published != pos ->
				st(PROD, HEAD, pos); published = pos;
				light_fence(PROD);			/* PW1 */
				ld(PROD, CWSLP, x);			/* PW2 */
				if :: x -> wake(PROD, CWSLP, CWSEQ, cw_asleep) :: else -> skip fi
			:: else -> skip
			fi;
			want = (CAP / 2 > 1 -> CAP / 2 : 1);
			ld(PROD, TAIL, tail_cache);		/* the spin's look, P2 */
			if
			:: pos - tail_cache >= CAP ->
				ld(PROD, CLOSED, x);		/* K3: closed, the room again */
				if
				:: x -> ld(PROD, TAIL, tail_cache); ok = (pos - tail_cache < CAP)
				:: else -> skip
				fi
			:: else -> skip
			fi;
			do
			:: pos - tail_cache < CAP || !ok -> break
			:: else ->
				ld(PROD, PWSEQ, seq);			/* K2 */
				st(PROD, PWSLP, want);			/* PS1 */
#ifndef BROKEN_PS2
				heavy_fence(PROD);		/* PS2 */
#endif
				ld(PROD, TAIL, tail_cache);		/* PS3 */
				free_now = CAP - (pos - tail_cache);
				if
				:: free_now >= want -> st(PROD, PWSLP, 0); break
				:: else ->
#ifndef BROKEN_PCLOSE
					ld(PROD, CLOSED, x);		/* K3 */
#else
					x = 0;
#endif
					if
					:: x ->	/* room_once_closed: 0 or TT_EFULL */
						ld(PROD, TAIL, tail_cache);
						ok = (pos - tail_cache < CAP);
						st(PROD, PWSLP, 0);
						break
					:: else ->
						futex_wait(PROD, PWSEQ, seq, pw_asleep);
						st(PROD, PWSLP, 0);
						ld(PROD, TAIL, tail_cache)
					fi
				fi
			od
		fi;
		if
		:: ok ->
			pos++;
			/* TT_RING_BATCH: publish now, or after later records */
			if
			:: published != pos ->
				st(PROD, HEAD, pos); published = pos;
				light_fence(PROD);			/* PW1 */
				ld(PROD, CWSLP, x);			/* PW2 */
				if :: x -> wake(PROD, CWSLP, CWSEQ, cw_asleep) :: else -> skip fi
			:: skip
			fi
		:: else -> skip	/* TT_EFULL: dropped, counted */
		fi
	od;
	if	/* tt_ring_flush before close */
	:: published != pos ->
		st(PROD, HEAD, pos); published = pos;
		light_fence(PROD);
		ld(PROD, CWSLP, x);
		if :: x -> wake(PROD, CWSLP, CWSEQ, cw_asleep) :: else -> skip fi
	:: else -> skip
	fi;
#if !defined(KICK) && !defined(CLOSER)
	/* tt_ring_close: K0 then wake (K1) */
	st(PROD, CLOSED, 1);
	wake(PROD, CWSLP, CWSEQ, cw_asleep)
#endif
}

active proctype consumer() {
	byte cursor = 0, h, seq, x, k, want, rc;
	bool kicked;
	do
	:: true ->
		/* tt_ring_wait_sc: rc 1 ready, 0 kicked, 2 closed (3: sleep). The
		 * spin's look first: head, kick (a plain load, the RMW only when
		 * set), closed (K3, then the head again). */
		ld(CONS, HEAD, h);
		if
		:: h != cursor -> rc = 1
		:: else ->
			ld(CONS, KICKF, k);
			if :: k -> take_kick(CONS, k) :: else -> skip fi;
			if
			:: k -> rc = 0
			:: else ->
				ld(CONS, CLOSED, x);
				if
				:: x -> ld(CONS, HEAD, h); rc = (h != cursor -> 1 : 2)
				:: else ->
					do
					:: true ->
						ld(CONS, CWSEQ, seq);		/* K2 */
						st(CONS, CWSLP, 1);		/* CS1 */
#ifndef BROKEN_CS2
						heavy_fence(CONS);		/* CS2 */
#endif
						ld(CONS, HEAD, h);		/* CS3 */
						if
						:: h != cursor -> rc = 1
						:: else ->
#ifndef BROKEN_KICK
							take_kick(CONS, k);
#else
							k = 0;
#endif
							if
							:: k -> rc = 0
							:: else ->
								ld(CONS, CLOSED, x);	/* K3 */
								if
								:: x ->
#ifndef OLD_CLOSE
									ld(CONS, HEAD, h);
#endif
									rc = (h != cursor -> 1 : 2)
								:: else -> rc = 3
								fi
							fi
						fi;
						if
						:: rc != 3 -> st(CONS, CWSLP, 0); break
						:: else ->
							futex_wait(CONS, CWSEQ, seq, cw_asleep);
							st(CONS, CWSLP, 0)
						fi
					od
				fi
			fi
		fi;
		if
		:: rc == 2 -> break
		:: rc == 0 -> kicked = true
		:: rc == 1 ->
			/* peek everything published, then tt_ring_release_sc */
			consumed = consumed + (h - cursor);
			cursor = h;
			st(CONS, TAIL, cursor);				/* C2 */
			light_fence(CONS);				/* CW1 */
			ld(CONS, PWSLP, want);				/* CW2 */
			if
			:: want ->
				ld(CONS, HEAD, h);
				if
				:: CAP - (h - cursor) >= want -> wake(CONS, PWSLP, PWSEQ, pw_asleep)
				:: else -> skip
				fi
			:: else -> skip
			fi
		fi;
#ifdef KICK
		/* no close in this variant: done once all is read and the kick seen */
		if :: consumed == N && kicked -> break :: else -> skip fi
#else
		skip
#endif
	od;
#ifndef CLOSER
	assert(consumed == N)
#else
	skip	/* records committed after the close may stay unread */
#endif
}
