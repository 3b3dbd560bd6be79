module h1ceiling

go 1.26.8
