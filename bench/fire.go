package bench

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// Fire posts event to every ticket in ids with 16 concurrent clients and
// returns how many succeeded; used to bring tickets into a benchmark's
// starting state.
func Fire(base, token string, client *http.Client, ids []int64, event string) (int, error) {
	var (
		mu  sync.Mutex
		ok  int
		err error
		wg  sync.WaitGroup
	)
	work := make(chan int64)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				body := []byte(`{"event":"` + event + `"}`)
				req, _ := http.NewRequest("POST", base+"/api/v1/tickets/"+strconv.FormatInt(id, 10)+"/transitions", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, e := client.Do(req)
				mu.Lock()
				switch {
				case e != nil:
					err = e
				case resp.StatusCode != 200:
					b, _ := io.ReadAll(resp.Body)
					err = fmt.Errorf("fire %s on %d: %d %s", event, id, resp.StatusCode, b)
				default:
					ok++
				}
				mu.Unlock()
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	return ok, err
}
