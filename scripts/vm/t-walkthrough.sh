# Docker's getting-started multi-container walkthrough, as tests/walkthrough.rs
# has it, under systemd and cgroup v2: mysql:5.7 on a user network with a
# named volume, DNS by alias from netshoot, the to-do app on a published
# port, the data outliving the containers. Images come through the registry
# mirror on 127.0.0.1:5000.
# shellcheck shell=bash

if ! curl -sf -m 5 http://127.0.0.1:5000/v2/library/mysql/tags/list >/dev/null; then
    bad "walkthrough" "the mysql test image is not in the registry (scripts/build-test-images.sh)"
    return
fi
# Pulled first, each with a longer bound: under software emulation a pull
# of the database image alone takes minutes.
for img in mysql:5.7 nicolaka/netshoot getting-started/todo-app; do
    T=900 t "pull $img through the mirror" rrun pull -q "$img"
done
db_env=(-e MYSQL_ROOT_PASSWORD=secret -e MYSQL_DATABASE=todos)
t "network create todo-app" r network create todo-app
t "run mysql:5.7 with an alias and a named volume" r run -d --name db --network todo-app \
    --network-alias mysql -v todo-mysql-data:/var/lib/mysql "${db_env[@]}" mysql:5.7
db_ready() { r exec db mysql -uroot -psecret -e 'SELECT 1' >/dev/null 2>&1; }
wait_for 900 db_ready || bad "the database answers" "$(r logs db 2>&1 | tail -5)"
db_ip=$(r inspect -f '{{(index .NetworkSettings.Networks "todo-app").IPAddress}}' db)
dig=$(r run --rm --network todo-app nicolaka/netshoot dig +short mysql 2>&1)
eq "dig mysql from netshoot answers the database's address" "$db_ip" "$dig"
t "run the to-do app on a published port" r run -dp 3000:3000 --name app --network todo-app \
    -e MYSQL_HOST=mysql -e MYSQL_USER=root -e MYSQL_PASSWORD=secret -e MYSQL_DB=todos \
    getting-started/todo-app
app_up() { curl -sf -m 5 http://127.0.0.1:3000/items; }
wait_for 120 app_up || bad "the app answers" "$(r logs app 2>&1 | tail -5)"
t "add an item through the published port" curl -sf -m 10 -X POST -H 'Content-Type: application/json' \
    -d '{"name":"Walk the dog"}' http://127.0.0.1:3000/items
t "the item is in the database" bash -c "rrun exec db mysql -uroot -psecret todos -e 'select name from todo_items' | grep -q 'Walk the dog'"
t "rm -f app db" r rm -f app db
t "mysql again on the same volume" r run -d --name db2 --network todo-app --network-alias mysql \
    -v todo-mysql-data:/var/lib/mysql "${db_env[@]}" mysql:5.7
db2_ready() { r exec db2 mysql -uroot -psecret todos -e 'select name from todo_items' 2>/dev/null | grep -q 'Walk the dog'; }
wait_for 900 db2_ready
t "the data outlived the containers" db2_ready
t "clean up" bash -c "rrun rm -f db2 && rrun volume rm todo-mysql-data && rrun network rm todo-app"
