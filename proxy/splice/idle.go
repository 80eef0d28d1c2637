package splice

import (
	"container/heap"
	"sync"
	"time"
)

// sleepers enforces the idle timeout of the pipes whose directions are
// all parked or over (a direction that runs enforces it with its read
// deadline): one heap of the process, ordered by when each pipe becomes
// idle, and one timer for its head. A pipe is in it at most once, and
// since a pipe's idle end only moves later, its entry is never late: when
// it comes due the pipe is checked again (idleCheck) and either ends or
// goes back in for its new idle end. This costs an idle session an entry
// of 16 octets instead of a timer of its own (about 130).
var sleepers sleeperHeap

type sleeper struct {
	at int64 // mono
	p  *pipe
}

type sleeperHeap struct {
	mu    sync.Mutex
	h     sleeperList
	timer *time.Timer
}

// add queues p to be checked at at, unless it is queued already.
func (s *sleeperHeap) add(p *pipe, at int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.slot != 0 {
		return
	}
	heap.Push(&s.h, sleeper{at, p})
	if p.slot == 1 {
		s.arm()
	}
}

// remove takes a finished pipe out, so that the heap does not keep it.
func (s *sleeperHeap) remove(p *pipe) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.slot == 0 {
		return
	}
	first := p.slot == 1
	heap.Remove(&s.h, int(p.slot-1))
	if first {
		s.arm()
	}
}

// arm sets the timer for the head of the heap. s.mu is held.
func (s *sleeperHeap) arm() {
	if len(s.h) == 0 {
		if s.timer != nil {
			s.timer.Stop()
		}
		return
	}
	d := time.Duration(s.h[0].at - int64(time.Since(epoch)))
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.fire)
	} else {
		s.timer.Reset(d)
	}
}

// fire checks the pipes that are due, each in a goroutine of its own (an
// idle one ends there).
func (s *sleeperHeap) fire() {
	s.mu.Lock()
	now := int64(time.Since(epoch))
	var due []*pipe
	for len(s.h) > 0 && s.h[0].at <= now {
		due = append(due, heap.Pop(&s.h).(sleeper).p)
	}
	s.arm()
	s.mu.Unlock()
	for _, p := range due {
		go p.idleCheck()
	}
}

// sleeperList is the heap.Interface; p.slot is kept as the index + 1.
type sleeperList []sleeper

func (l sleeperList) Len() int           { return len(l) }
func (l sleeperList) Less(i, j int) bool { return l[i].at < l[j].at }
func (l sleeperList) Swap(i, j int) {
	l[i], l[j] = l[j], l[i]
	l[i].p.slot = int32(i + 1)
	l[j].p.slot = int32(j + 1)
}

func (l *sleeperList) Push(x any) {
	e := x.(sleeper)
	e.p.slot = int32(len(*l) + 1)
	*l = append(*l, e)
}

func (l *sleeperList) Pop() any {
	old := *l
	e := old[len(old)-1]
	old[len(old)-1] = sleeper{}
	*l = old[:len(old)-1]
	e.p.slot = 0
	return e
}
